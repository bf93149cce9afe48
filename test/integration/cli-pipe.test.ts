/**
 * A reader that goes away must not leave a container half cleaned up: `run
 * --explain ... 2>&1 | head` closes the CLI's stderr early, yet the CLI has
 * to finish the container's life and remove what it made.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedImages } from '../helpers/images.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');
const skip = process.getuid?.() !== 0 ? 'needs root' : false;

let root: TempRoot;
let imageRef: string;

before(async () => {
  if (skip) return;
  root = createTempRoot('dctr-pipe-');
  const images = await sharedImages();
  imageRef = images.busybox.ref;
  const pulled = spawnSync(process.execPath, [BIN, '--root', root.root, '--run-root', root.runRoot, 'pull', '-q', imageRef], { encoding: 'utf8' });
  assert.equal(pulled.status, 0, pulled.stderr);
});

after(() => root?.dispose());

test('run --rm --explain cleans up even when its stderr reader goes away', { skip }, async () => {
  const child = spawn(
    process.execPath,
    [BIN, '--root', root.root, '--run-root', root.runRoot, 'run', '--rm', '--network', 'none', '--explain', imageRef, 'sh', '-c', 'sleep 0.5; echo done'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Read one chunk of the narration, then close the pipe like `| head -1` would.
  child.stderr.once('data', () => child.stderr.destroy());
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(status, 0);
  assert.equal(stdout.trim(), 'done');
  assert.deepEqual(mountsBelow(root.dir), []);
  const list = spawnSync('ls', [path.join(root.root, 'containers')], { encoding: 'utf8' });
  assert.equal(list.stdout.trim(), '', 'no bundle left after --rm');
});
