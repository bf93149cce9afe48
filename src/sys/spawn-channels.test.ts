/**
 * The addon's launcher start (spawnWithChannels), its wait (waitChildExit) and
 * its reads (readFdAsync, fdLineReader) against real programs: /bin/sh stands
 * in for the launcher and reports what it got on the channels it was given.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isEngineError } from '../common/index.js';
import { prepareLaunch } from './launcher.js';
import { fdLineReader } from './line-protocol.js';
import { isNativeError, readFdAsync, spawnWithChannels, waitChildExit, type SpawnedWithChannels } from './native.js';

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'didactic-spawn-unit-'));
});
after(() => {
  if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts sh -c script with the three stdio fds (-1: /dev/null). */
function sh(script: string, stdio: [number, number, number] = [-1, -1, -1], explain = false): SpawnedWithChannels {
  return spawnWithChannels('/bin/sh', ['-c', script], stdio, explain);
}

function closeAll(spawned: SpawnedWithChannels): void {
  for (const fd of [spawned.plan, spawned.sync, spawned.explain]) if (fd >= 0) fs.closeSync(fd);
}

/** Everything a fd gives until EOF. */
async function readAll(fd: number): Promise<string> {
  const chunks: Buffer[] = [];
  for (let chunk = await readFdAsync(fd, 7); chunk.length > 0; chunk = await readFdAsync(fd, 7)) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

describe('spawnWithChannels', () => {
  test('the child has exactly fds 0-4 without explain, 0-5 with it, and nothing else of this process', async () => {
    const open = fs.readdirSync('/proc/self/fd').length;
    assert.ok(open > 6, 'this process has more fds than the child may get');
    {
      for (const explain of [false, true]) {
        const out = path.join(dir, `fds-${explain}`);
        const fd = fs.openSync(out, 'w');
        // $$ is the shell, which opens nothing itself: ls runs as its child.
        const child = sh('ls /proc/$$/fd', [-1, fd, -1], explain);
        fs.closeSync(fd);
        assert.deepEqual(await waitChildExit(child.pid), { code: 0, signal: null });
        closeAll(child);
        const fds = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
        assert.deepEqual(fds, explain ? [0, 1, 2, 3, 4, 5] : [0, 1, 2, 3, 4]);
        assert.equal(child.explain >= 0, explain);
      }
    }
  });

  test('stdio: -1 is /dev/null, an fd is passed as that fd', async () => {
    const input = path.join(dir, 'in');
    const output = path.join(dir, 'out');
    fs.writeFileSync(input, 'from a file\n');
    const [inFd, outFd] = [fs.openSync(input, 'r'), fs.openSync(output, 'w')];
    const child = sh('read line; echo "got $line"; readlink /proc/$$/fd/2', [inFd, outFd, -1]);
    fs.closeSync(inFd);
    fs.closeSync(outFd);
    assert.deepEqual(await waitChildExit(child.pid), { code: 0, signal: null });
    closeAll(child);
    assert.equal(fs.readFileSync(output, 'utf8'), 'got from a file\n/dev/null\n');
  });

  test('the plan pipe, the sync socket both ways and the explain pipe work as the launcher uses them', async () => {
    const child = sh('plan=$(cat <&3); echo "PID $$" >&4; read go <&4; echo "explained $plan" >&5; echo "after $go $plan" >&4', [-1, -1, -1], true);
    fs.writeSync(child.plan, 'the plan');
    fs.closeSync(child.plan);
    const lines = fdLineReader(child.sync);
    assert.equal(await lines.next(), `PID ${child.pid}`);
    fs.writeSync(child.sync, 'GO\n');
    assert.equal(await lines.next(), 'after GO the plan');
    assert.equal(await lines.next(), null); // EOF: the shell exited, closing its end
    assert.equal(await readAll(child.explain), 'explained the plan\n');
    fs.closeSync(child.explain);
    assert.deepEqual(await waitChildExit(child.pid), { code: 0, signal: null });
  });

  test('exit codes and signals, with every signal at its default and none blocked (Node ignores SIGPIPE)', async () => {
    const out = path.join(dir, 'status');
    const fd = fs.openSync(out, 'w');
    // grep reads its own status: a shell blocks every signal for a moment while it forks.
    const grep = spawnWithChannels('/bin/grep', ['-E', '^Sig(Ign|Blk)', '/proc/self/status'], [-1, fd, -1], false);
    fs.closeSync(fd);
    assert.deepEqual(await waitChildExit(grep.pid), { code: 0, signal: null });
    closeAll(grep);
    const coded = sh('exit 7');
    assert.deepEqual(await waitChildExit(coded.pid), { code: 7, signal: null });
    closeAll(coded);
    assert.equal(fs.readFileSync(out, 'utf8').replace(/[ \t]+/g, ' '), 'SigBlk: 0000000000000000\nSigIgn: 0000000000000000\n');
    const killed = sh('kill -TERM $$; sleep 5');
    assert.deepEqual(await waitChildExit(killed.pid), { code: null, signal: 15 });
    closeAll(killed);
    const outside = sh('read x <&4');
    process.kill(outside.pid, 'SIGKILL');
    assert.deepEqual(await waitChildExit(outside.pid), { code: null, signal: 9 });
    closeAll(outside);
  });

  test('the wait reaps its child only, and child_process children next to it are reported to child_process', async () => {
    const ours = sh('read x <&4; exit 3');
    const theirs = spawn('/bin/sh', ['-c', 'exit 5'], { stdio: 'ignore' });
    const theirExit = new Promise<number | null>((resolve) => theirs.once('exit', (code) => resolve(code)));
    const oursExit = waitChildExit(ours.pid);
    assert.equal(await theirExit, 5);
    // Ours still runs (the zombie of theirs was libuv's to take, ours is not taken by libuv).
    assert.doesNotThrow(() => process.kill(ours.pid, 0));
    fs.writeSync(ours.sync, 'x\n');
    assert.deepEqual(await oursExit, { code: 3, signal: null });
    // Reaped: no zombie left behind.
    assert.throws(() => process.kill(ours.pid, 0), { code: 'ESRCH' });
    closeAll(ours);
  });

  test('a missing program is an ENOENT from posix_spawn, and nothing is left open', () => {
    const before = fs.readdirSync('/proc/self/fd').length;
    let error: unknown;
    try {
      spawnWithChannels(path.join(dir, 'nosuch'), [], [-1, -1, -1], true);
    } catch (e) {
      error = e;
    }
    assert.ok(isNativeError(error, 'ENOENT'));
    assert.equal(error.syscall, 'posix_spawn');
    assert.equal(fs.readdirSync('/proc/self/fd').length, before);
  });

  test('bad arguments are TypeErrors', () => {
    const bad = spawnWithChannels as unknown as (...args: unknown[]) => unknown;
    assert.throws(() => bad('/bin/true', 'x', [-1, -1, -1], false), TypeError);
    assert.throws(() => bad('/bin/true', [], [-1, -1], false), TypeError);
    assert.throws(() => bad('/bin/true', [1], [-1, -1, -1], false), TypeError);
  });
});

describe('prepareLaunch through the addon', () => {
  test('a launcher that cannot be started is an EngineError UNAVAILABLE naming it', async () => {
    const missing = path.join(dir, 'no-launcher');
    await assert.rejects(prepareLaunch({ launcherPath: missing, stdio: ['ignore', 'inherit', 'inherit'] }), (error: unknown) => {
      assert.ok(isEngineError(error, 'UNAVAILABLE'));
      assert.match(error.message, /start container: run .*no-launcher: ENOENT/);
      return true;
    });
  });

  test('the protocol with a stand-in launcher: plan, PID, GO, then EOF at its exec', async () => {
    // The stand-in reads the plan, reports its own pid, waits for GO and execs (fd 4 is close-on-exec in the
    // real launcher; here the shell just closes it before it execs).
    const standIn = path.join(dir, 'stand-in');
    fs.writeFileSync(standIn, '#!/bin/sh\nplan=$(cat <&3)\necho "PID $$" >&4\nread go <&4\n[ "$go" = GO ] || exit 9\nexec 4>&-\nexec sh -c "exit $plan"\n', { mode: 0o755 });
    const pending = await prepareLaunch({ launcherPath: standIn, stdio: ['ignore', 'ignore', 'ignore'] });
    let seen = 0;
    const container = await pending.launch(Buffer.from('42'), (pid) => void (seen = pid));
    assert.equal(container.pid, container.launcherPid);
    assert.equal(seen, container.pid);
    assert.equal(container.stdout, null);
    assert.deepEqual(await container.exited, { status: 42 });
  });

  test('an ERR line before the pid rejects with the launcher\'s step, after it exited', async () => {
    const standIn = path.join(dir, 'stand-in-err');
    fs.writeFileSync(standIn, '#!/bin/sh\ncat <&3 >/dev/null\necho "ERR 2 exec nosuch" >&4\nexit 125\n', { mode: 0o755 });
    const pending = await prepareLaunch({ launcherPath: standIn, stdio: ['ignore', 'ignore', 'ignore'] });
    await assert.rejects(pending.launch(Buffer.from('x')), (error: unknown) => isEngineError(error, 'NOT_FOUND') && /executable file not found/.test(error.message));
  });

  test('abort ends a launcher that never got its plan', async () => {
    const standIn = path.join(dir, 'stand-in-abort');
    fs.writeFileSync(standIn, '#!/bin/sh\n[ -n "$(cat <&3)" ] && exit 0\nexit 125\n', { mode: 0o755 });
    const before = fs.readdirSync('/proc/self/fd').length;
    const pending = await prepareLaunch({ launcherPath: standIn, stdio: ['ignore', 'ignore', 'ignore'] });
    await pending.abort();
    assert.equal(fs.readdirSync('/proc/self/fd').length, before);
  });
});
