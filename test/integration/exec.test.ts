/**
 * `exec` and `cp` through the CLI, as root, on the real kernel. One
 * container runs `sleep` in the foreground (a background `run` of this
 * test), its pid is taken from the containers table, and every exec and cp
 * goes into it. At the end the run is signalled, so the container ends and
 * is cleaned up by run itself; the temp root goes with everything in it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/index.js';
import { createHostSink } from '../../src/engine/cp.js';
import { TarReader } from '../../src/snapshot/index.js';
import { buildTar } from '../../src/snapshot/tar-writer.js';
import { ETC_PASSWD, sharedImages } from '../helpers/images.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');
const skip = process.getuid?.() !== 0 ? 'needs root' : false;


let root: TempRoot;
let imageRef: string;
let runner: ChildProcess | undefined;
let runnerDone: Promise<unknown> | undefined;
let name: string;
let id: string;
let pid: number;
let work: string;

const cli = (args: string[]): Promise<CliResult> => runCli(root, args);

function row(containerName: string): { id: string; state: string; pid: number | null } | undefined {
  const db = openDatabase(path.join(root.root, 'db.sqlite'));
  try {
    return db.prepare('SELECT id, state, pid FROM containers WHERE name = ?').get(containerName) as { id: string; state: string; pid: number | null } | undefined;
  } finally {
    db.close();
  }
}

async function exec(args: string[], status = 0): Promise<CliResult> {
  const result = await cli(['exec', ...args]);
  assert.equal(result.status, status, `exec ${args.join(' ')}: exit ${result.status}, expected ${status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** A CLI result that must be exit 0, with its output in the message otherwise. */
function succeeded(result: CliResult, what: string): CliResult {
  assert.equal(result.status, 0, `${what}: exit ${result.status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

function statusField(text: string, field: string): string {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '';
}

describe('exec and cp', { skip }, () => {
  before(async () => {
    root = createTempRoot('dctr-exec-');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-exec-work-'));
    imageRef = (await sharedImages()).busybox.ref;
    const pulled = await cli(['pull', '-q', imageRef]);
    assert.equal(pulled.status, 0, pulled.stderr);
    name = `exec-test-${process.pid}`;
    runner = spawn(process.execPath, [BIN, '--root', root.root, '--run-root', root.runRoot, 'run', '--name', name, '--network', 'none', imageRef, 'sleep', '300'], {
      env: { ...process.env, DIDACTIC_CONTAINER_AUTH: path.join(root.dir, 'auth.json') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let runnerErr = '';
    runner.stderr!.on('data', (chunk: Buffer) => (runnerErr += chunk.toString()));
    runnerDone = new Promise((resolve) => runner!.once('close', resolve));
    for (let i = 0; i < 200; i++) {
      const found = row(name);
      if (found?.state === 'running' && found.pid !== null) {
        [id, pid] = [found.id, found.pid];
        break;
      }
      if (runner.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(pid, `the container did not start: ${runnerErr}`);
  });

  after(async () => {
    if (runner !== undefined && runner.exitCode === null) {
      // sleep is pid 1 of its namespace and ignores SIGTERM: kill it, and run cleans up after it.
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      } else {
        runner.kill('SIGTERM');
      }
      await runnerDone;
    }
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    if (root !== undefined) {
      assert.deepEqual(mountsBelow(root.dir), [], 'mounts left below the test root');
      root.dispose();
    }
  });

  test('hostname is the container\'s, and /proc is its pid namespace', async () => {
    assert.equal((await exec([name, 'hostname'])).stdout.trim(), id.slice(0, 12));
    assert.equal((await exec([name, 'cat', '/proc/1/cmdline'])).stdout, 'sleep\x00300\x00');
    // An id prefix finds it too.
    assert.equal((await exec([id.slice(0, 8), 'hostname'])).stdout.trim(), id.slice(0, 12));
  });

  test('-u resolves the user in the container\'s /etc/passwd; -e and -w', async () => {
    const app = ETC_PASSWD.split('\n').find((line) => line.startsWith('app:'));
    assert.ok(app, 'the test image has a user app');
    assert.match((await exec(['-u', 'app', name, 'id'])).stdout, /^uid=1000\(app\) gid=1000\(app\)/);
    assert.match((await exec(['-u', '1234:55', name, 'id'])).stdout, /^uid=1234 gid=55/);
    // /etc/passwd is read inside the container: its own symlinks are followed there.
    await exec([name, 'sh', '-c', 'mv /etc/passwd /etc/passwd.real && ln -s passwd.real /etc/passwd']);
    try {
      assert.match((await exec(['-u', 'app', name, 'id'])).stdout, /^uid=1000\(app\) gid=1000\(app\) groups=1001\(extra\)/);
    } finally {
      await exec([name, 'sh', '-c', 'rm /etc/passwd && mv /etc/passwd.real /etc/passwd']);
    }
    const unknown = await exec(['-u', 'nobody-here', name, 'id'], 125);
    assert.match(unknown.stderr, /unable to find user nobody-here/);
    const env = (await exec(['-e', 'FOO=bar', '-e', 'EMPTY=', name, 'env'])).stdout.split('\n');
    assert.ok(env.includes('FOO=bar') && env.includes('EMPTY='), env.join('\n'));
    assert.ok(env.some((line) => line.startsWith('PATH=')), 'the container\'s PATH is kept');
    assert.equal((await exec(['-w', '/tmp', name, 'pwd'])).stdout, '/tmp\n');
  });

  test('the exit status comes back: 3, 127 for a missing command, 126 for a directory', async () => {
    await exec([name, 'sh', '-c', 'exit 3'], 3);
    const missing = await exec([name, 'nosuch'], 127);
    assert.match(missing.stderr, /exec: "nosuch": executable file not found in \$PATH/);
    const directory = await exec([name, '/etc'], 126);
    assert.match(directory.stderr, /permission denied/);
    const nowhere = await exec(['-w', '/no/such/dir', name, 'true'], 126);
    assert.match(nowhere.stderr, /chdir: \/no\/such\/dir: no such file or directory/i);
  });

  test('capabilities, seccomp and cgroups are the container\'s', async () => {
    const mine = (await exec([name, 'cat', '/proc/self/status'])).stdout;
    const first = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    for (const field of ['CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs', 'Seccomp']) {
      assert.equal(statusField(mine, field), statusField(first, field), field);
    }
    assert.equal(statusField(mine, 'Seccomp'), '2');
    assert.equal((await exec([name, 'cat', '/proc/self/oom_score_adj'])).stdout, fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'));
    assert.notEqual(statusField(mine, 'CapEff'), '000001ffffffffff');
    const privileged = (await exec(['--privileged', name, 'cat', '/proc/self/status'])).stdout;
    assert.notEqual(statusField(privileged, 'CapEff'), statusField(first, 'CapEff'));
    const groups = (await exec([name, 'sh', '-c', 'cat /proc/self/cgroup; echo --; cat /proc/1/cgroup'])).stdout.split('--\n');
    assert.equal(groups[0]!.split('\n').filter((l) => !l.includes('name=')).join('\n'), groups[1]!.split('\n').filter((l) => !l.includes('name=')).join('\n'));
  });

  test('-i passes standard input; a signal to the CLI reaches the command', async () => {
    const piped = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, '--root', root.root, '--run-root', root.runRoot, 'exec', '-i', name, 'tr', 'a-z', 'A-Z'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let [stdout, stderr] = ['', ''];
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', (status) => resolve({ status, stdout, stderr }));
      child.stdin.end('hello\n');
    });
    assert.equal(piped.stdout, 'HELLO\n', piped.stderr);
    assert.equal(piped.status, 0);
    const sleeper = spawn(process.execPath, [BIN, '--root', root.root, '--run-root', root.runRoot, 'exec', name, 'sleep', '60'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sleeperErr = '';
    sleeper.stderr!.on('data', (chunk: Buffer) => (sleeperErr += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => sleeper.once('close', resolve));
    // Wait until the sleep runs inside the container, then ask the CLI to stop it.
    let seen = '';
    for (let i = 0; i < 100 && seen !== '1'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = (await cli(['exec', name, 'sh', '-c', 'ps -o args | grep -c "^sleep 60"'])).stdout.trim();
    }
    assert.equal(seen, '1', 'the exec\'d sleep is not seen in the container');
    sleeper.kill('SIGTERM');
    assert.equal(await closed, 128 + 15, sleeperErr);
  });

  test('-d starts the command and returns at once', async () => {
    const started = Date.now();
    await exec(['-d', name, 'sh', '-c', 'sleep 1; echo done > /tmp/detached']);
    assert.ok(Date.now() - started < 5_000);
    for (let i = 0; i < 100 && (await cli(['exec', name, 'cat', '/tmp/detached'])).stdout !== 'done\n'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal((await exec([name, 'cat', '/tmp/detached'])).stdout, 'done\n');
  });

  test('--explain shows one setns per namespace', async () => {
    const result = await cli(['--explain', 'exec', name, 'true']);
    assert.equal(result.status, 0, result.stderr);
    const text = result.stdout + result.stderr;
    for (const [file, flag] of [['mnt', 'CLONE_NEWNS'], ['pid', 'CLONE_NEWPID'], ['uts', 'CLONE_NEWUTS'], ['ipc', 'CLONE_NEWIPC']]) {
      assert.ok(text.includes(`setns(/proc/${pid}/ns/${file}, ${flag})`), `no setns of ${file} in:\n${text}`);
    }
  });

  test('cp out: a file, and a directory with modes, owners and times', async () => {
    const out = path.join(work, 'passwd');
    succeeded(await cli(['cp', `${name}:/etc/passwd`, out]), 'cp a file out');
    assert.equal(fs.readFileSync(out, 'utf8'), ETC_PASSWD);
    await exec([name, 'sh', '-c', 'mkdir -p /data/sub && echo hi > /data/sub/f && chown 1000:1001 /data/sub/f && chmod 640 /data/sub/f && ln -s f /data/sub/link && touch -d @1700000000 /data/sub/f']);
    const into = path.join(work, 'into');
    fs.mkdirSync(into);
    const copied = await cli(['cp', `${name}:/data`, into]);
    assert.equal(copied.status, 0, copied.stderr);
    const file = path.join(into, 'data', 'sub', 'f');
    const stat = fs.statSync(file);
    assert.equal(fs.readFileSync(file, 'utf8'), 'hi\n');
    assert.deepEqual([stat.mode & 0o7777, stat.uid, stat.gid, stat.mtimeMs / 1000], [0o640, 1000, 1001, 1700000000]);
    assert.equal(fs.readlinkSync(path.join(into, 'data', 'sub', 'link')), 'f');
    // A destination that does not exist takes the copy's name.
    succeeded(await cli(['cp', `${name}:/data/sub`, path.join(work, 'renamed')]), 'cp to a new name');
    assert.equal(fs.readFileSync(path.join(work, 'renamed', 'f'), 'utf8'), 'hi\n');
    const missing = await cli(['cp', `${name}:/nosuch`, work]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /Could not find the file \/nosuch in container/);
  });

  test('cp in: a file and a directory, modes and owners kept', async () => {
    const dir = path.join(work, 'upload');
    fs.mkdirSync(path.join(dir, 'inner'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'inner', 'secret'), 'payload\n', { mode: 0o600 });
    fs.chownSync(path.join(dir, 'inner', 'secret'), 1234, 4321);
    fs.chmodSync(path.join(dir, 'inner'), 0o710);
    const copied = await cli(['cp', dir, `${name}:/tmp`]);
    assert.equal(copied.status, 0, copied.stderr);
    const seen = await exec([name, 'sh', '-c', 'cat /tmp/upload/inner/secret; stat -c "%a %u %g" /tmp/upload/inner/secret /tmp/upload/inner']);
    assert.equal(seen.stdout, 'payload\n600 1234 4321\n710 0 0\n');
    fs.writeFileSync(path.join(work, 'single'), 'one\n');
    succeeded(await cli(['cp', path.join(work, 'single'), `${name}:/tmp/renamed-single`]), 'cp a file in under a new name');
    assert.equal((await exec([name, 'cat', '/tmp/renamed-single'])).stdout, 'one\n');
  });

  test('cp never follows a container symlink out to the host', async () => {
    const marker = `dctr-exec-escape-${process.pid}`;
    await exec([name, 'sh', '-c', 'ln -s /etc /link && ln -s ../../../../../../../etc /up']);
    // Reading through the links gives the container's /etc/passwd, not the host's.
    for (const via of ['/link/passwd', '/up/passwd']) {
      const out = path.join(work, `read-${path.basename(path.dirname(via))}`);
      const result = await cli(['cp', `${name}:${via}`, out]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(fs.readFileSync(out, 'utf8'), ETC_PASSWD);
      assert.notEqual(fs.readFileSync(out, 'utf8'), fs.readFileSync('/etc/passwd', 'utf8'));
    }
    // Writing through them lands in the container's /etc.
    fs.writeFileSync(path.join(work, marker), 'x\n');
    for (const via of ['/link', '/up']) {
      const result = await cli(['cp', path.join(work, marker), `${name}:${via}/${marker}`]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(fs.existsSync(`/etc/${marker}`), false, `cp through ${via} wrote to the host's /etc`);
    }
    assert.equal((await exec([name, 'cat', `/etc/${marker}`])).stdout, 'x\n');
    // Copying the link itself copies a link, not the host directory it names.
    const link = path.join(work, 'the-link');
    succeeded(await cli(['cp', `${name}:/link`, link]), 'cp a symlink out');
    assert.equal(fs.readlinkSync(link), '/etc');
  });

  test('the host side refuses archive entries that climb out or go through a symlink', () => {
    const dest = fs.mkdtempSync(path.join(work, 'sink-'));
    const outside = fs.mkdtempSync(path.join(work, 'outside-'));
    const apply = (entries: Parameters<typeof buildTar>[0]) => {
      const sink = createHostSink(dest);
      const reader = new TarReader(sink, 'hostile');
      reader.push(buildTar(entries));
      reader.finish();
      sink.finish();
    };
    assert.throws(() => apply([{ name: '../escape', body: 'x' }]), /refuse the archive entry/);
    assert.throws(() => apply([{ name: 'l', type: 'symlink', linkname: outside }, { name: 'l/escape', body: 'x' }]), /refuse the archive entry/);
    assert.throws(() => apply([{ name: 'l2', type: 'symlink', linkname: outside }, { name: 'l2', body: 'x' }, { name: 'l2/x', body: 'x' }]), /refuse/);
    assert.deepEqual(fs.readdirSync(outside), []);
    assert.equal(fs.existsSync(path.join(work, 'escape')), false);
  });

  test('exec into a stopped container is a clear error', async () => {
    const stopped = `exec-test-stopped-${process.pid}`;
    const ran = await cli(['run', '--name', stopped, '--network', 'none', imageRef, 'true']);
    assert.equal(ran.status, 0, ran.stderr);
    const result = await cli(['exec', stopped, 'true']);
    assert.ok(result.status === 1 || result.status === 125, `exit ${result.status}`);
    assert.match(result.stderr, /is not running/);
    const unknown = await cli(['exec', 'no-such-container-anywhere', 'true']);
    assert.ok(unknown.status === 1 || unknown.status === 125, `exit ${unknown.status}`);
    assert.match(unknown.stderr, /No such container: no-such-container-anywhere/);
    const cp = await cli(['cp', `${stopped}:/etc/passwd`, work]);
    assert.match(cp.stderr, /is not running/);
  });
});
