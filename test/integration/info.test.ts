/**
 * `info` against the machine itself: its answers are checked with
 * independent tools (stat -f, a real overlay mount, /proc/cgroups).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');
const skip = process.getuid?.() !== 0 ? 'needs root' : false;

function info(): Record<string, any> {
  const result = spawnSync(process.execPath, [BIN, '--root', path.join(os.tmpdir(), 'dctr-info-none'), 'info', '--format', 'json'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

function fsType(dir: string): string | null {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

test('info reports the cgroup layout this machine has', { skip }, () => {
  const top = fsType('/sys/fs/cgroup');
  const unified = fsType('/sys/fs/cgroup/unified');
  const expected = top === 'cgroup2fs' ? 'v2' : unified === 'cgroup2fs' ? 'hybrid' : 'v1';
  const reported = info().cgroups;
  assert.equal(reported.mode, expected);
  if (expected !== 'v2') {
    // Every enabled v1 controller with its own mount point is listed.
    const enabled = fs
      .readFileSync('/proc/cgroups', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t'))
      .filter((cols) => cols[3] === '1' && fsType(`/sys/fs/cgroup/${cols[0]}`) === 'cgroupfs')
      .map((cols) => cols[0]!);
    assert.ok(enabled.length > 0);
    assert.deepEqual([...reported.v1Controllers].sort(), [...enabled].sort());
  }
});

test('info says overlayfs is supported exactly when an overlay mount works', { skip }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-ovl-'));
  for (const sub of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, sub));
  fs.writeFileSync(path.join(dir, 'lower', 'hello'), 'from lower');
  let mounted = false;
  t.after(() => {
    if (mounted) execFileSync('umount', [path.join(dir, 'merged')]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const data = `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`;
  mounted = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', data, path.join(dir, 'merged')]).status === 0;
  if (mounted) assert.equal(fs.readFileSync(path.join(dir, 'merged', 'hello'), 'utf8'), 'from lower');
  assert.equal(info().overlay.supported, mounted);
});
