import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('version prints the package version, as text and as JSON', () => {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(path.dirname(BIN), '../package.json'), 'utf8')) as { version: string };
  const text = cli(['version']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^didactic-container ${pkg.version.replace(/\./g, '\\.')}\n`));
  const json = cli(['version', '--format', 'json']);
  assert.equal(JSON.parse(json.stdout).Version, pkg.version);
  assert.equal(cli(['--version']).stdout.trim(), pkg.version);
});

test('unknown commands and bad flags exit 125 with a clear message', () => {
  const unknown = cli(['frobnicate']);
  assert.equal(unknown.status, 125);
  assert.match(unknown.stderr, /'frobnicate' is not a didactic-container command/);
  const badFlag = cli(['info', '--no-such-flag']);
  assert.equal(badFlag.status, 125);
  assert.match(badFlag.stderr, /unknown option '--no-such-flag'/);
  const badFormat = cli(['version', '--format', 'yaml']);
  assert.equal(badFormat.status, 125);
  assert.match(badFormat.stderr, /--format: unknown format "yaml"/);
});

test('--help lists the nouns and exits 0', () => {
  const help = cli(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /image\s+Manage images/);
  assert.match(help.stdout, /container\s+Manage containers/);
});

test('info on an empty root reports zero images and does not create the root', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  const result = cli(['--root', root, 'info', '--format', 'json']);
  assert.equal(result.status, 0, result.stderr);
  const info = JSON.parse(result.stdout);
  assert.equal(info.storage.root, root);
  assert.equal(info.images, 0);
  assert.equal(info.containers.total, 0);
  assert.equal(info.runningAsRoot, process.getuid?.() === 0);
  assert.ok(['v1', 'v2', 'hybrid', 'unknown'].includes(info.cgroups.mode));
  assert.equal(fs.existsSync(root), false);
  // The environment variable moves the root too.
  const viaEnv = JSON.parse(cli(['info', '--format', 'json'], { DIDACTIC_CONTAINER_ROOT: root }).stdout);
  assert.equal(viaEnv.storage.root, root);
});
