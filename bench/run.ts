/**
 * `run --rm IMAGE true` side by side in one run (issue 4's and issue 6's
 * benchmark): our CLI (default network and --network none), `runc run` of an
 * equivalent bundle, podman with runc, docker, and `node -e 0` as the floor.
 * The commands are interleaved, one of each per round, in a rotating order,
 * so that all of them see the same machine load. Prints medians, p90 and the
 * ratios against podman and against `node -e 0`.
 *
 *   node dist/bench/run.js [--iterations N] [--without podman,docker,runc] [--live]
 *
 * Our CLI runs from a copy of the build taken at the start (--live: from the
 * tree itself), so that others rebuilding the tree meanwhile change nothing.
 *
 * Needs root; podman and docker come from bench/setup-peers.sh. Everything the
 * bench creates lives in one temp dir (our root, podman's storage, dockerd's
 * data root, the runc bundle) and is removed at the end, as are dockerd, the
 * bridges and cgroup parents the peers create. The image is the test busybox
 * image (test/helpers/images.ts) given to every engine offline: pushed to a
 * loopback registry for our `pull`, copied by skopeo into podman's storage and
 * into a docker-archive for `docker load`. Not part of the tests.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planSpec } from '../src/spec/index.js';
import { buildBusyboxLayerTar, ETC_GROUP, ETC_PASSWD, IMAGE_PATH_ENV, writeTestImageLayout } from '../test/helpers/images.js';
import {
  addCleanup,
  cleanUp,
  DOCKER,
  firstLine,
  flag,
  gitState,
  hardLimit,
  hostBefore,
  lastLines,
  loadAverage,
  log,
  must,
  pad,
  prepareDocker,
  prepareOurs,
  preparePodman,
  quantile,
  run,
  snapshotBuild,
  TAG,
  TREE,
  which,
  type PeerBench,
  type Result,
} from './peers.js';

// ---------------------------------------------------------------- arguments

const argv = process.argv.slice(2);
const iterations = Math.max(1, Number(flag('--iterations') ?? 20) || 20);
const live = argv.includes('--live');
/** Our CLI: a snapshot of the build (see snapshotBuild), or the tree itself with --live. */
let BIN = path.join(TREE, 'bin', 'didactic-container.js');
const without = new Set((flag('--without') ?? '').split(',').filter(Boolean));

// ---------------------------------------------------------------- the contenders

interface Contender {
  name: string;
  /** Which goal row it belongs to: the podman it is compared with. */
  network: 'default' | 'none' | 'floor';
  command: string;
  args: () => string[];
  env?: NodeJS.ProcessEnv;
  /** Why it cannot run here, when it cannot. */
  unavailable?: string;
  samples: number[];
  /** Timed runs that exited non-zero (not in samples), and the last such error. */
  failures: number;
  lastError?: string;
}

interface Bench extends PeerBench {
  contenders: Contender[];
}

/** A runc bundle: the busybox rootfs unpacked, and config.json from our own spec planner. */
function prepareRunc(bench: Bench): { bundle: string; state: string } {
  const bundle = path.join(bench.dir, 'runc', 'bundle');
  const state = path.join(bench.dir, 'runc', 'state');
  const rootfs = path.join(bundle, 'rootfs');
  fs.mkdirSync(rootfs, { recursive: true });
  fs.mkdirSync(state, { recursive: true });
  must('unpack busybox rootfs', run('tar', ['-x', '-C', rootfs], process.env, buildBusyboxLayerTar()));
  const spec = planSpec(
    {
      containerId: randomBytes(32).toString('hex'),
      imageConfig: { Env: [IMAGE_PATH_ENV], Cmd: ['sh'], WorkingDir: '/' },
      rootfsPath: rootfs,
      command: ['true'],
      network: 'none',
    },
    {
      passwd: ETC_PASSWD,
      group: ETC_GROUP,
      nofileHard: hardLimit('Max open files'),
      hostCpus: os.cpus().length,
      cgroupsPath: '/didactic-bench-runc',
    },
  );
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  addCleanup(bench, 'runc containers', () => {
    const listed = run('runc', ['--root', state, 'list', '-q']);
    for (const id of listed.stdout.split('\n').filter(Boolean)) run('runc', ['--root', state, 'delete', '--force', id]);
  });
  return { bundle, state };
}

// ---------------------------------------------------------------- timing

function timeOnce(contender: Contender): { ms: number; result: Result } {
  const args = contender.args();
  const start = process.hrtime.bigint();
  const result = run(contender.command, args, contender.env ?? process.env);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, result };
}

function report(bench: Bench, rounds: number, loadBefore: string, loadAfter: string): void {
  const median = (name: string) => {
    const found = bench.contenders.find((c) => c.name === name && c.unavailable === undefined && c.samples.length > 0);
    return found ? quantile(found.samples, 0.5) : undefined;
  };
  const floor = median('node -e 0');
  const podmanFor: Record<string, number | undefined> = {
    none: median('podman run --rm --network none'),
    default: median('podman run --rm (default network)'),
  };
  const lines: string[] = [];
  lines.push(`run --rm IMAGE true, ${rounds} interleaved rounds${rounds < iterations ? ` (of ${iterations}; interrupted)` : ''}, ${new Date().toISOString()}`);
  lines.push(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}, node ${process.version}`);
  lines.push(`load average (1, 5, 15 min): before ${loadBefore}; after ${loadAfter}`);
  lines.push(`code: ${gitState()}; peers: ${firstLine('runc', ['--version'])}, ${firstLine('podman', ['--version'])}, ${firstLine('dockerd', ['--version'])}`);
  lines.push('');
  const header = `${pad('command', 44)} ${pad('median ms', 10, true)} ${pad('p90 ms', 9, true)} ${pad('x podman', 9, true)} ${pad('x node -e 0', 12, true)}`;
  lines.push(header);
  lines.push('-'.repeat(header.length));
  for (const contender of bench.contenders) {
    if (contender.unavailable !== undefined) {
      lines.push(`${pad(contender.name, 44)} not run: ${contender.unavailable}`);
      continue;
    }
    if (contender.samples.length === 0) {
      lines.push(`${pad(contender.name, 44)} no samples`);
      continue;
    }
    const m = quantile(contender.samples, 0.5);
    const p90 = quantile(contender.samples, 0.9);
    const podman = contender.network === 'floor' ? undefined : podmanFor[contender.network];
    const vsPodman = podman === undefined ? '-' : `${(m / podman).toFixed(2)}x`;
    const vsNode = floor === undefined ? '-' : `${(m / floor).toFixed(2)}x`;
    lines.push(`${pad(contender.name, 44)} ${pad(m.toFixed(1), 10, true)} ${pad(p90.toFixed(1), 9, true)} ${pad(vsPodman, 9, true)} ${pad(vsNode, 12, true)}`);
  }
  for (const contender of bench.contenders) {
    if (contender.failures > 0 && contender.unavailable === undefined) {
      lines.push(`note: ${contender.name} failed ${contender.failures} of ${contender.failures + contender.samples.length} timed runs (left out of its row); last ${contender.lastError}`);
    }
  }
  lines.push('');
  const goal = (text: string, value: number | undefined, limit: number) =>
    lines.push(`${pad(text, 62)} ${value === undefined ? 'cannot tell (a side did not run)' : `${value.toFixed(2)}x ${value <= limit ? 'MET' : 'NOT MET'}`}`);
  const oursNone = median('didactic-container run --rm --network none');
  const oursDefault = median('didactic-container run --rm (default network)');
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a / b);
  goal('issue 4 goal: ours (--network none) <= 0.5x podman (none)', ratio(oursNone, podmanFor['none']), 0.5);
  goal('issue 4 goal: ours (--network none) <= 1.6x node -e 0', ratio(oursNone, floor), 1.6);
  goal('issue 4 goal: ours (default network) <= 1.6x node -e 0', ratio(oursDefault, floor), 1.6);
  goal('issue 6 goal: ours (default) <= 0.4x podman (default)', ratio(oursDefault, podmanFor['default']), 0.4);
  // The same goals as a machine without NODE_EXTRA_CA_CERTS sees them (podman and docker do not read it).
  const plainFloor = median('node -e 0, without NODE_EXTRA_CA_CERTS');
  const plainNone = median('ours --network none, without NODE_EXTRA_CA_CERTS');
  const plainDefault = median('ours default network, without NODE_EXTRA_CA_CERTS');
  if (plainFloor !== undefined) {
    lines.push('');
    lines.push(`without NODE_EXTRA_CA_CERTS (set here; it costs every Node process ${floor === undefined ? '?' : (floor - plainFloor).toFixed(0)} ms):`);
    goal('issue 4 goal: ours (--network none) <= 0.5x podman (none)', ratio(plainNone, podmanFor['none']), 0.5);
    goal('issue 4 goal: ours (--network none) <= 1.6x node -e 0', ratio(plainNone, plainFloor), 1.6);
    goal('issue 4 goal: ours (default network) <= 1.6x node -e 0', ratio(plainDefault, plainFloor), 1.6);
    goal('issue 6 goal: ours (default) <= 0.4x podman (default)', ratio(plainDefault, podmanFor['default']), 0.4);
  }
  console.log(lines.join('\n'));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the run benchmark needs root');
  const loadBefore = loadAverage();
  const before = hostBefore();
  const bench: Bench = { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-bench-run-')), contenders: [], cleanups: [] };
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log('interrupted; reporting the rounds so far and cleaning up');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (!live) BIN = snapshotBuild(bench);
    const layout = path.join(bench.dir, 'layout');
    writeTestImageLayout(layout);

    const node: Contender = { name: 'node -e 0', network: 'floor', command: process.execPath, args: () => ['-e', '0'], samples: [], failures: 0 };
    const ours = await prepareOurs(bench, BIN, layout, before.links);
    const ourArgs = ['--root', ours.root, '--run-root', ours.runRoot, 'run', '--rm'];
    const oursDefault: Contender = { name: 'didactic-container run --rm (default network)', network: 'default', command: process.execPath, args: () => [BIN, ...ourArgs, ours.ref, 'true'], samples: [], failures: 0 };
    const oursNone: Contender = { name: 'didactic-container run --rm --network none', network: 'none', command: process.execPath, args: () => [BIN, ...ourArgs, '--network', 'none', ours.ref, 'true'], samples: [], failures: 0 };
    // The CLI's own start (no engine work): what is left of ours above it is the container.
    const cliStart: Contender = { name: 'didactic-container version (CLI start)', network: 'floor', command: process.execPath, args: () => [BIN, 'version'], samples: [], failures: 0 };
    bench.contenders.push(node, cliStart, oursDefault, oursNone);
    // NODE_EXTRA_CA_CERTS makes every Node process parse that bundle at start
    // (on these machines ~85 ms of node -e 0's 130): the same two rows without
    // it show the floor and our share as most machines have them.
    if (process.env['NODE_EXTRA_CA_CERTS'] !== undefined) {
      const { NODE_EXTRA_CA_CERTS: _dropped, ...plainEnv } = process.env;
      bench.contenders.push(
        { ...node, name: 'node -e 0, without NODE_EXTRA_CA_CERTS', env: plainEnv, samples: [] },
        { ...oursNone, name: 'ours --network none, without NODE_EXTRA_CA_CERTS', network: 'floor', env: plainEnv, samples: [] },
        { ...oursDefault, name: 'ours default network, without NODE_EXTRA_CA_CERTS', network: 'floor', env: plainEnv, samples: [] },
      );
    }

    const runc: Contender = { name: 'runc run (same spec, plain rootfs dir)', network: 'none', command: 'runc', args: () => [], samples: [], failures: 0 };
    bench.contenders.push(runc);
    if (without.has('runc')) runc.unavailable = 'left out with --without';
    else if (!which('runc')) runc.unavailable = 'runc is not installed (apt-get install runc)';
    else {
      try {
        const { bundle, state } = prepareRunc(bench);
        let counter = 0;
        runc.args = () => ['--root', state, 'run', '--bundle', bundle, `bench-${process.pid}-${++counter}`];
      } catch (error) {
        runc.unavailable = (error as Error).message;
      }
    }

    const podmanNone: Contender = { name: 'podman run --rm --network none', network: 'none', command: 'podman', args: () => [], samples: [], failures: 0 };
    const podmanDefault: Contender = { name: 'podman run --rm (default network)', network: 'default', command: 'podman', args: () => [], samples: [], failures: 0 };
    bench.contenders.push(podmanNone, podmanDefault);
    const noPodman = without.has('podman') ? 'left out with --without' : !which('podman') ? 'podman is not installed (bench/setup-peers.sh)' : undefined;
    if (noPodman) podmanNone.unavailable = podmanDefault.unavailable = noPodman;
    else {
      try {
        const podman = preparePodman(bench, layout);
        podmanNone.env = podmanDefault.env = podman.env;
        podmanNone.args = () => [...podman.args, 'run', '--runtime', 'runc', '--rm', '--network', 'none', `localhost/${TAG}`, 'true'];
        podmanDefault.args = () => [...podman.args, 'run', '--runtime', 'runc', '--rm', `localhost/${TAG}`, 'true'];
      } catch (error) {
        podmanNone.unavailable = podmanDefault.unavailable = (error as Error).message;
      }
    }

    const dockerNone: Contender = { name: 'docker run --rm --network none', network: 'none', command: DOCKER, args: () => [], samples: [], failures: 0 };
    const dockerDefault: Contender = { name: 'docker run --rm (default bridge)', network: 'default', command: DOCKER, args: () => [], samples: [], failures: 0 };
    bench.contenders.push(dockerNone, dockerDefault);
    const noDocker = without.has('docker') ? 'left out with --without' : !which('dockerd') || !fs.existsSync(DOCKER) ? 'docker.io is not installed (bench/setup-peers.sh)' : undefined;
    if (noDocker) dockerNone.unavailable = dockerDefault.unavailable = noDocker;
    else {
      try {
        const env = await prepareDocker(bench, layout);
        dockerNone.env = dockerDefault.env = env;
        dockerNone.args = () => ['run', '--rm', '--network', 'none', TAG, 'true'];
        dockerDefault.args = () => ['run', '--rm', TAG, 'true'];
      } catch (error) {
        dockerNone.unavailable = dockerDefault.unavailable = (error as Error).message;
      }
    }

    // Untimed runs warm caches and find the ones that cannot run here (two tries each).
    for (const contender of bench.contenders) {
      for (let attempt = 0; attempt < 2 && contender.unavailable === undefined; attempt++) {
        const { result } = timeOnce(contender);
        if (result.status === 0) break;
        if (attempt === 1) contender.unavailable = `exited ${result.status}: ${lastLines(result.stderr)}`;
      }
    }
    const active = bench.contenders.filter((c) => c.unavailable === undefined);
    log(`timing ${active.map((c) => c.name).join('; ')}`);
    let rounds = 0;
    for (let round = 0; round < iterations && !interrupted; round++) {
      for (let k = 0; k < active.length && !interrupted; k++) {
        const contender = active[(round + k) % active.length]!;
        if (contender.unavailable !== undefined) continue;
        const { ms, result } = timeOnce(contender);
        // spawnSync blocks the event loop; let a pending SIGINT/SIGTERM handler run between runs.
        await new Promise((resolve) => setImmediate(resolve));
        if (interrupted) break; // the signal went to that run too
        if (result.status === 0) contender.samples.push(ms);
        else {
          contender.failures++;
          contender.lastError = `round ${round + 1}: exited ${result.status}: ${lastLines(result.stderr)}`;
          log(`${contender.name}: ${contender.lastError}`);
          // A failed run may leave what --rm would have removed; give up on a contender that keeps failing.
          if (contender.failures > Math.max(2, iterations / 4)) contender.unavailable = `failed ${contender.failures} times, last ${contender.lastError}`;
        }
      }
      if (interrupted) break;
      rounds++;
      log(`round ${round + 1}/${iterations} done (load ${loadAverage()})`);
    }
    report(bench, rounds, loadBefore, loadAverage());
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp(bench, before);
  }
}

main().catch((error: unknown) => {
  log(`bench/run: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
});
