/**
 * `run` end to end through the CLI, as root, on the real kernel: the test
 * busybox image is pulled from the shared test registry into a private
 * root, and each test runs a container and then checks that nothing was
 * left behind (no mount below the root, no cgroup of the container, and
 * with --rm no bundle and no row).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../../src/db/index.js';
import { sharedImages } from '../helpers/images.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;
const hasRunc = spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;


interface ContainerRow {
  id: string;
  state: string;
  exit_code: number | null;
  oom_killed: number;
  error: string | null;
}

let root: TempRoot;
let imageRef: string;
let counter = 0;

const cli = (args: string[], options: { onSpawn?: (pid: number, stdout: NodeJS.ReadableStream) => void } = {}): Promise<CliResult> =>
  runCli(root, args, options);

/** Runs a named container; returns the CLI's result and the container's name. */
async function run(flags: string[], command: string[] = []): Promise<CliResult & { name: string }> {
  const name = `run-test-${process.pid}-${++counter}`;
  const result = await cli(['run', '--name', name, ...flags, imageRef, ...command]);
  return { ...result, name };
}

function row(name: string): ContainerRow | undefined {
  const db = openDatabase(path.join(root.root, 'db.sqlite'));
  try {
    return db.prepare('SELECT id, state, exit_code, oom_killed, error FROM containers WHERE name = ?').get(name) as ContainerRow | undefined;
  } finally {
    db.close();
  }
}

function bundles(): string[] {
  const dir = path.join(root.root, 'containers');
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

function cgroupMountPoints(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => / - cgroup2? /.test(line))
    .map((line) => line.split(' ')[4]!);
}

/** Nothing of the container is left: mounts, cgroups; and with --rm its bundle and row. */
function assertClean(id: string, removed: boolean): void {
  assert.deepEqual(mountsBelow(root.dir), [], 'mounts left below the test root');
  const groups = cgroupMountPoints().map((point) => path.join(point, 'didactic-container', id)).filter((dir) => fs.existsSync(dir));
  assert.deepEqual(groups, [], 'cgroups left behind');
  const bundle = path.join(root.root, 'containers', id);
  if (removed) assert.equal(fs.existsSync(bundle), false, 'bundle left behind with --rm');
  else assert.deepEqual(fs.readdirSync(path.join(bundle, 'rootfs')), [], 'rootfs still has content: not unmounted');
}

/** The pid of the launcher running container `id` (its --join-cgroup arguments name the container's groups). */
function findLauncher(id: string): number {
  // By the executable the kernel ran, so that a build/ reached through a symlink is found too.
  const launcher = fs.realpathSync(path.join(import.meta.dirname, '../../../build/Release/didactic-launcher'));
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/exe`) === launcher && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(id)) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  throw new Error(`no launcher for ${id}`);
}

function ran(result: CliResult & { name: string }, status: number): ContainerRow {
  assert.equal(result.status, status, `exit ${result.status}, expected ${status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  const found = row(result.name);
  assert.ok(found, `no row for ${result.name}`);
  assertClean(found.id, false);
  return found;
}

describe('run', { skip }, () => {
  before(async () => {
    root = createTempRoot('dctr-run-');
    const images = await sharedImages();
    imageRef = images.busybox.ref;
    const pulled = await cli(['pull', '-q', imageRef]);
    assert.equal(pulled.status, 0, pulled.stderr);
  });
  after(() => {
    if (root === undefined) return;
    // Containers run on the default bridge network: its bridge device outlives the root unless deleted.
    const dbFile = path.join(root.root, 'db.sqlite');
    if (fs.existsSync(dbFile)) {
      const db = openDatabase(dbFile);
      const bridges = (db.prepare('SELECT bridge FROM networks').all() as { bridge: string }[]).map((network) => network.bridge);
      db.close();
      for (const bridge of bridges) if (fs.existsSync(`/sys/class/net/${bridge}`)) spawnSync('ip', ['link', 'del', bridge]);
    }
    root.dispose();
  });

  test('echo hello: stdout is the container\'s, exit 0, row exited 0', async () => {
    const result = await run([], ['echo', 'hello']);
    assert.equal(result.stdout, 'hello\n', `exit ${result.status}, stderr: ${result.stderr}`);
    const found = ran(result, 0);
    assert.equal(found.state, 'exited');
    assert.equal(found.exit_code, 0);
  });

  test('the container\'s own exit status comes back', async () => {
    assert.equal(ran(await run([], ['sh', '-c', 'exit 3']), 3).exit_code, 3);
  });

  test('a missing command exits 127 and a directory 126, in Docker\'s words', async () => {
    const missing = await run([], ['nosuch']);
    assert.match(missing.stderr, /exec: "nosuch": executable file not found in \$PATH/);
    assert.equal(ran(missing, 127).exit_code, 127);
    const directory = await run([], ['/etc']);
    assert.match(directory.stderr, /permission denied/);
    ran(directory, 126);
  });

  test('the command is pid 1 of its own pid namespace', async () => {
    const result = await run([], ['sh', '-c', 'echo $$; cat /proc/1/cmdline | tr "\\0" " "; ls /proc | grep -c "^[0-9]"']);
    ran(result, 0);
    const [pid, cmdline, count] = result.stdout.split('\n');
    assert.equal(pid, '1');
    assert.match(cmdline!, /^sh -c echo \$\$;/);
    // sh, cat or ls, and grep at most: no host process is visible.
    assert.ok(Number(count) <= 4, `saw ${count} processes`);
  });

  test('env, workdir and user are as asked; the workdir is made when missing', async () => {
    const result = await run(['-u', 'app', '-e', 'FOO=bar', '-w', '/work/dir'], ['sh', '-c', 'id -u; id -g; id -G; echo $FOO; pwd; echo $HOME']);
    ran(result, 0);
    const [uid, gid, groups, foo, cwd, home] = result.stdout.split('\n');
    assert.equal(uid, '1000');
    assert.equal(gid, '1000');
    assert.ok(groups!.split(' ').includes('1001'), `supplementary groups: ${groups}`);
    assert.equal(foo, 'bar');
    assert.equal(cwd, '/work/dir');
    assert.equal(home, '/home/app');
  });

  test('--hostname sets the uts name and /etc/hostname; the default is the short id', async () => {
    const named = await run(['-h', 'box'], ['sh', '-c', 'hostname; cat /etc/hostname; grep -c box /etc/hosts']);
    ran(named, 0);
    assert.equal(named.stdout, 'box\nbox\n1\n');
    const unnamed = await run([], ['hostname']);
    const found = ran(unnamed, 0);
    assert.equal(unnamed.stdout, `${found.id.slice(0, 12)}\n`);
  });

  test('-m 32m: a memory hog is killed by the OOM killer, exits 137 and is recorded as OOM-killed', { timeout: 60_000 }, async () => {
    const result = await run(['-m', '32m'], ['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived']);
    assert.doesNotMatch(result.stdout, /survived/);
    const found = ran(result, 137);
    assert.equal(found.oom_killed, 1);
  });

  test('--pids-limit 10 caps a fork loop', { timeout: 30_000 }, async () => {
    const result = await run(['--pids-limit', '10'], [
      'sh',
      '-c',
      'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; i=0; while [ $i -lt 30 ]; do sleep 5 & i=$((i+1)); done; echo all-started',
    ]);
    assert.equal(result.stdout.split('\n')[0], '10', result.stderr);
    assert.doesNotMatch(result.stdout, /all-started/);
    assert.match(result.stderr, /can't fork/);
    assert.notEqual(result.status, 0);
    assert.equal(ran(result, result.status!).exit_code, result.status);
  });

  test('the first process is born in its cgroup in every hierarchy; the launcher stays outside', { timeout: 30_000 }, async () => {
    let output = '';
    const name = `run-test-${process.pid}-${++counter}`;
    const done = cli(['run', '--name', name, '--network', 'none', imageRef, 'sh', '-c', 'echo up; sleep 3'], {
      onSpawn: (_pid, stdout) => stdout.on('data', (chunk: Buffer) => (output += chunk.toString())),
    });
    for (let i = 0; i < 200 && !output.includes('up'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    const id = row(name)?.id;
    assert.ok(id, 'the container has a row');
    const groupOf = (pid: number): string[] =>
      fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((line) => line.split(':')).filter(([, controllers]) => controllers !== '' && !controllers!.startsWith('name=')).map((fields) => fields.slice(1).join(':'));
    const launcherPid = findLauncher(id);
    // Its only child: the container's first process (the helper that cloned it has exited).
    const children = fs.readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim().split(' ');
    assert.equal(children.length, 1, `the launcher's children: ${children.join(' ')}`);
    const containerPid = Number(children[0]);
    const inside = groupOf(containerPid);
    assert.ok(inside.length > 0);
    for (const entry of inside) assert.match(entry, new RegExp(`/didactic-container/${id}$`), `the container's process: ${entry}`);
    for (const entry of groupOf(launcherPid)) assert.doesNotMatch(entry, new RegExp(id), `the launcher: ${entry}`);
    const result = await done;
    assert.equal(result.status, 0, result.stderr);
    ran({ ...result, name }, 0);
  });

  test('--pids-limit 1: the first process alone counts (the helper that made it is gone)', async () => {
    // No shell: with one task allowed, the command itself is all there can be.
    const file = fs.existsSync('/sys/fs/cgroup/pids') ? '/sys/fs/cgroup/pids/pids.max' : '/sys/fs/cgroup/pids.max';
    const result = await run(['--rm', '--pids-limit', '1'], ['cat', file]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, '1\n');
  });

  test('a failure while planning, after the launcher started, leaves no launcher, cgroup or mount', async () => {
    const result = await run(['-u', 'nosuchuser'], ['true']);
    assert.match(result.stderr, /unable to find user nosuchuser/);
    const found = ran(result, 125);
    assert.throws(() => findLauncher(found.id), /no launcher/);
    const removed = await run(['--rm', '-u', 'nosuchuser'], ['true']);
    assert.equal(removed.status, 125);
    assert.equal(row(removed.name), undefined);
  });

  test('--rm leaves no bundle and no row', async () => {
    const before = bundles();
    const result = await run(['--rm'], ['true']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(row(result.name), undefined);
    assert.deepEqual(bundles(), before);
    assert.deepEqual(mountsBelow(root.dir), []);
  });

  test('a failure before exec leaves nothing behind with --rm, and the row says why without it', async () => {
    const before = bundles();
    const removed = await run(['--rm', '-u', 'nosuchuser'], ['true']);
    assert.equal(removed.status, 125);
    assert.match(removed.stderr, /unable to find user nosuchuser/);
    assert.equal(row(removed.name), undefined);
    assert.deepEqual(bundles(), before);
    assert.deepEqual(mountsBelow(root.dir), []);

    const kept = await run(['-u', 'nosuchuser'], ['true']);
    assert.equal(kept.status, 125);
    const found = row(kept.name);
    assert.equal(found?.state, 'exited');
    assert.match(found?.error ?? '', /unable to find user/);
    assertClean(found!.id, false);
  });

  test('a taken name is refused with Docker\'s conflict message', async () => {
    const first = await run([], ['true']);
    ran(first, 0);
    const second = await cli(['run', '--name', first.name, imageRef, 'true']);
    assert.equal(second.status, 125);
    assert.match(second.stderr, new RegExp(`Conflict\\. The container name "/${first.name}" is already in use`));
  });

  test('bad flags exit 125 before anything is made', async () => {
    const result = await run(['-m', 'lots'], ['true']);
    assert.equal(result.status, 125);
    assert.match(result.stderr, /invalid --memory "lots"/);
    assert.equal(row(result.name), undefined);
  });

  test('six containers at once, from six CLI processes: each gets its own status and its own cleanup', { timeout: 60_000 }, async () => {
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((n) => run(n % 2 === 0 ? ['--rm'] : [], ['sh', '-c', `exit ${n + 10}`])));
    results.forEach((result, n) => {
      if (n % 2 === 0) assert.equal(result.status, n + 10, result.stderr);
      else ran(result, n + 10);
    });
    assert.deepEqual(mountsBelow(root.dir), []);
  });

  test('SIGTERM sent to the CLI reaches the container', { timeout: 20_000 }, async () => {
    const name = `run-test-${process.pid}-${++counter}`;
    const result = await cli(['run', '--name', name, imageRef, 'sh', '-c', 'trap "exit 42" TERM; echo ready; while true; do sleep 0.1; done'], {
      onSpawn: (pid, stdout) => {
        stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) process.kill(pid, 'SIGTERM');
        });
      },
    });
    ran({ ...result, name }, 42);
  });

  test('--explain narrates the birth: overlay mount, cgroup writes, clone, pivot_root, execve', async () => {
    const result = await run(['--explain', '-m', '64m'], ['true']);
    ran(result, 0);
    for (const pattern of [/mount\("overlay"/, /memory\.limit_in_bytes = 67108864|memory\.max = 67108864/, /clone\(CLONE_NEW/, /pivot_root/, /execve\("\/bin\/true"/]) {
      assert.match(result.stderr, pattern);
    }
    // Born in its cgroup: the launcher's helper joins every group, then clones; nobody moves the process afterwards.
    const joins = result.stderr.split('\n').filter((line) => /write \S+\/cgroup\.procs = 0 \(itself/.test(line));
    // A set: when another run removed the shared parent meanwhile, the groups are made again.
    const groupsMade = new Set(result.stderr.split('\n').map((line) => /mkdir (\S+\/didactic-container\/[0-9a-f]{64})$/.exec(line.trim())?.[1]).filter((dir) => dir !== undefined));
    assert.ok(groupsMade.size > 0, 'the explain output shows the groups made');
    assert.equal(joins.length, groupsMade.size, 'one join per group made');
    assert.ok(result.stderr.indexOf('cgroup.procs = 0') < result.stderr.indexOf('CLONE_PARENT'), 'the helper joins before it clones');
    assert.doesNotMatch(result.stderr, /cgroup\.procs = [1-9]/, 'no process is moved after its birth');
  });

  test('the same probe under our runtime and under runc reports the same container', { skip: hasRunc ? false : 'runc is not installed' }, async () => {
    const probe = [
      'sh',
      '-c',
      'grep -E "^(CapEff|CapPrm|CapBnd|Seccomp|NoNewPrivs):" /proc/self/status; echo pid=$$; hostname; id; pwd; echo $HOME; ' +
        'cat /proc/kcore 2>&1 | wc -c; echo x > /proc/sys/kernel/domainname 2>/dev/null || echo proc-sys-ro; ' +
        // Processes counted by the shell's own glob: a pipeline would race with its own members starting.
        'set -- /proc/[0-9]*; echo processes=$#; ls /dev | sort | tr "\\n" " "',
    ];
    for (const flags of [[], ['--cap-drop', 'ALL', '--cap-add', 'CHOWN', '-u', 'app', '-w', '/tmp', '--security-opt', 'no-new-privileges']]) {
      const ours = await run(['-h', 'probe', ...flags], probe);
      ran(ours, 0);
      const theirs = await run(['--runtime', 'runc', '-h', 'probe', ...flags], probe);
      ran(theirs, 0);
      assert.equal(ours.stdout, theirs.stdout, `flags ${flags.join(' ')}`);
      assert.match(ours.stdout, /proc-sys-ro/);
    }
  });

  test('--runtime runc runs the same bundle: output, statuses (127/126 as Docker), hostname, OOM verdict, and the same cleanup', { timeout: 60_000, skip: hasRunc ? false : 'runc is not installed' }, async () => {
    const result = await run(['--runtime', 'runc', '-h', 'box', '-u', 'app'], ['sh', '-c', 'echo hello; hostname; id -u; echo $$; exit 5']);
    assert.equal(result.stdout, 'hello\nbox\n1000\n1\n', `exit ${result.status}, stderr: ${result.stderr}`);
    ran(result, 5);
    const missing = await run(['--runtime', 'runc'], ['nosuch']);
    assert.match(missing.stderr, /Error: start container: exec: "nosuch": executable file not found in \$PATH/);
    assert.equal(ran(missing, 127).exit_code, 127);
    ran(await run(['--runtime', 'runc'], ['/etc']), 126);
    ran(await run(['--runtime', 'runc'], ['sh', '-c', 'exit 1']), 1);
    const hog = await run(['--runtime', 'runc', '-m', '32m'], ['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived']);
    assert.equal(ran(hog, 137).oom_killed, 1);
    const before = bundles();
    const removed = await run(['--runtime', 'runc', '--rm'], ['true']);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(row(removed.name), undefined);
    assert.deepEqual(bundles(), before);
    assert.deepEqual(mountsBelow(root.dir), []);
  });
});
