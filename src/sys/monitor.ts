/**
 * Detached containers: the native launcher in its --detach mode
 * (native/launcher/monitor.h) forks a monitor that outlives this process,
 * owns the container's stdio, writes its json-file log, reaps it, restarts
 * it by policy and leaves an exit file in the run dir.
 *
 * Sync channel (fd 4), from the engine's side:
 *
 *   monitor -> engine   MONITOR <pid of the monitor>
 *   monitor -> engine   PID <host pid of the container's first process>
 *   engine  -> monitor  GO          (after onPid: cgroups, later the network)
 *   monitor -> engine   ERR <errno> <step> <detail>, then EOF once it has exited
 *   EOF                 the container's command runs; the monitor goes on alone
 *
 * Closing the channel instead of sending GO makes the monitor kill the
 * process and exit. Files in the run dir: monitor.pid, started, exit,
 * stdin (a FIFO, with keepStdin) and stop (written here: "do not restart").
 *
 * With `terminal` (-t) the container gets a pseudo-terminal whose master the
 * monitor keeps (--stdin tty): its output is logged as stdout, and clients
 * reach it through the unix socket <runDir>/attach (frames: monitor.h and
 * src/cli/terminal.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { EngineError, silentExplainer, type Explainer } from '../common/index.js';
import { launchError } from './launcher.js';
import { nativeBinaryPath } from './native.js';
import { forwardExplainLines, lineReader } from './line-protocol.js';

/** Docker's --restart values. unless-stopped behaves as always while the monitor lives. */
export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | 'on-failure' | `on-failure:${number}`;

/** The names of the monitor's files in a container's run dir. */
export const MONITOR_FILES = { pid: 'monitor.pid', started: 'started', exit: 'exit', stop: 'stop', stdin: 'stdin', attach: 'attach' } as const;

export interface StartDetachedOptions {
  /** The container's bundle dir; the monitor's working directory. */
  bundleDir: string;
  /** <run-root>/<id>: created if missing; the monitor's files go here. */
  runDir: string;
  /** The json-file log, appended to (Docker: <bundle>/<id>-json.log). */
  logPath: string;
  /** Default no. */
  restart?: RestartPolicy;
  /**
   * -i: the container's stdin is the FIFO <runDir>/stdin, held open by the
   * monitor (the container never reads EOF); write to it to feed the container.
   * Default: /dev/null.
   */
  keepStdin?: boolean;
  /** -t: a pseudo-terminal, served on <runDir>/attach; takes the place of keepStdin's FIFO. */
  terminal?: boolean;
  /** cgroup.procs files the monitor writes a restarted process's pid into before it goes on. */
  cgroupProcs?: string[];
  /** Called with the host pid before the process goes on (put it in its cgroup here). Throwing kills it. */
  onPid?: (pid: number) => Promise<void> | void;
  explainer?: Explainer;
  /** Default: build/Release/didactic-launcher. */
  launcherPath?: string;
}

export interface DetachedContainer {
  /** The container's first process as the host sees it. */
  pid: number;
  /** The monitor, its parent; not a child of this process. */
  monitorPid: number;
}

/** Checks a --restart value the way Docker does; throws INVALID_ARGUMENT otherwise. */
export function checkRestartPolicy(text: string): RestartPolicy {
  if (/^(no|always|unless-stopped|on-failure)$/.test(text)) return text as RestartPolicy;
  const match = /^on-failure:(\d{1,6})$/.exec(text);
  if (match !== null) return text as RestartPolicy;
  if (/^(no|always|unless-stopped):/.test(text)) {
    throw new EngineError('INVALID_ARGUMENT', `restart policy ${text}: maximum retry count can only be used with on-failure`);
  }
  throw new EngineError('INVALID_ARGUMENT', `restart policy ${JSON.stringify(text)}: expected no, always, unless-stopped or on-failure[:N]`);
}


function removeIfThere(file: string): void {
  fs.rmSync(file, { force: true });
}

/**
 * Starts a container under its own monitor and returns as soon as the
 * container's command runs: the caller may exit right away. Rejects with an
 * EngineError naming the launcher's step (cause: LaunchFailure) when the
 * container could not start; by then the monitor has killed what it started
 * and exited.
 */
export async function startDetached(plan: Buffer, options: StartDetachedOptions): Promise<DetachedContainer> {
  const file = options.launcherPath ?? nativeBinaryPath('didactic-launcher');
  const explainer = options.explainer ?? silentExplainer;
  const restart = checkRestartPolicy(options.restart ?? 'no');
  const [runDir, logPath] = [path.resolve(options.runDir), path.resolve(options.logPath)];
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const running = readMonitorPid(runDir);
  if (running !== undefined && isMonitorAlive(running, runDir)) {
    throw new EngineError('FAILED_PRECONDITION', `start container: monitor ${running} is still running for ${runDir}`);
  }
  for (const name of [MONITOR_FILES.exit, MONITOR_FILES.stop, MONITOR_FILES.started, MONITOR_FILES.pid, MONITOR_FILES.stdin, MONITOR_FILES.attach]) {
    removeIfThere(path.join(runDir, name));
  }
  const args = ['--detach', '--run-dir', runDir, '--log', logPath, '--restart', restart, '--stdin', options.terminal === true ? 'tty' : options.keepStdin ? 'fifo' : 'null'];
  for (const procs of options.cgroupProcs ?? []) args.push('--cgroup-procs', procs);
  const child = spawn(file, args, {
    cwd: options.bundleDir,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', explainer.enabled ? 'pipe' : 'ignore'],
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawnError !== undefined) {
    throw new EngineError('UNAVAILABLE', `start container: run ${file}: ${spawnError.message}`, { cause: spawnError });
  }
  const pipes = child.stdio as unknown as ((Readable & Writable) | null)[];
  const [planPipe, sync, explainPipe] = [pipes[3]!, pipes[4]!, pipes[5] ?? null];
  const explained = explainPipe ? forwardExplainLines(explainPipe, explainer) : Promise.resolve();
  planPipe.on('error', () => {}); // EPIPE when the launcher died early: reported through the sync channel
  sync.on('error', () => {});
  planPipe.end(plan);

  const lines = lineReader(sync);
  /** Waits for the monitor to close the channel (it has exited), then for the explain lines. */
  const drained = async () => {
    while ((await lines.next()) !== null) {}
    await explained;
  };
  const fail = async (error: EngineError): Promise<never> => {
    sync.end();
    await drained();
    throw error;
  };
  const expect = async (prefix: string): Promise<number> => {
    const line = await lines.next();
    if (line?.startsWith('ERR ')) return fail(launchError(line));
    if (line === null || !line.startsWith(prefix) || !/^\d+$/.test(line.slice(prefix.length))) {
      const what = line === null ? 'the launcher exited' : `unexpected launcher message ${JSON.stringify(line)}`;
      return fail(new EngineError('INTERNAL', `start container: ${what} before reporting ${prefix.trim().toLowerCase()}`));
    }
    return Number(line.slice(prefix.length));
  };
  const monitorPid = await expect('MONITOR ');
  const pid = await expect('PID ');
  try {
    await options.onPid?.(pid);
  } catch (error) {
    sync.end(); // no GO: the monitor kills the process and exits
    await drained();
    throw error;
  }
  sync.write('GO\n');
  const result = await lines.next();
  if (result !== null) return fail(launchError(result));
  await explained;
  sync.destroy();
  return { pid, monitorPid };
}

/** The monitor's pid from its pid file, or undefined when there is none. */
export function readMonitorPid(runDir: string): number | undefined {
  try {
    const text = fs.readFileSync(path.join(runDir, MONITOR_FILES.pid), 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when pid is a live monitor (not a zombie, not a recycled pid running
 * something else): its command line is didactic-launcher --detach, for
 * runDir when it is given.
 */
export function isMonitorAlive(pid: number, runDir?: string): boolean {
  let argv: string[];
  try {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  if (path.basename(argv[0] ?? '') !== 'didactic-launcher' || argv[1] !== '--detach') return false;
  if (runDir === undefined) return true;
  const at = argv.indexOf('--run-dir');
  return at > 0 && argv[at + 1] === path.resolve(runDir);
}

/**
 * Tells the monitor the container is being stopped, so it does not restart it:
 * a stop file in the run dir (seen even if the signal is missed) and SIGUSR1.
 * Send the stop signal to the container afterwards.
 */
export function requestMonitorStop(runDir: string, monitorPid?: number): void {
  fs.writeFileSync(path.join(runDir, MONITOR_FILES.stop), '');
  const pid = monitorPid ?? readMonitorPid(runDir);
  if (pid !== undefined && isMonitorAlive(pid, runDir)) {
    try {
      process.kill(pid, 'SIGUSR1');
    } catch {
      // gone in between: nothing to tell
    }
  }
}
