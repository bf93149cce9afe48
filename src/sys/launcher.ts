/**
 * Starting a container through the native launcher (native/launcher).
 *
 * The launcher gets the encoded launch plan on fd 3 and talks on fd 4:
 *
 *   launcher -> engine   NET <pid>   (--new-netns only, first: that process holds the new network namespace)
 *   launcher -> engine   PID <host pid of the container's first process>
 *   engine   -> launcher GO          (after onPid: the pids limit, the network)
 *   launcher -> engine   ERR <errno> <step> <detail>   (a failure before execve)
 *   EOF                  the container's command is running (fd 4 is close-on-exec)
 *
 * fd 5 carries explain lines ("topic<TAB>words<TAB>call") when an explainer is
 * enabled. The launcher stays the parent of the container's first process,
 * forwards SIGINT/TERM/HUP/QUIT/USR1/USR2 to it and exits with its status.
 * A helper it forks first joins the container's cgroups (--join-cgroup), makes
 * the network namespace (--new-netns), reads the plan and clones the first
 * process as the launcher's child, so that it is born in both.
 *
 * With `terminal` (run -t) the launcher runs as `didactic-launcher --tty`: the
 * container gets a pseudo-terminal made in its own devpts, and the launcher
 * relays between its master and the launcher's own fd 0 and 1, copying the
 * window size of its fd 0 at start and on SIGWINCH (native/launcher/console.h).
 * The caller puts its terminal into raw mode.
 *
 * When the container's stdio are all inherited fds or /dev/null (the CLI's
 * foreground run), the launcher is started by the addon (posix_spawn, see
 * native/addon/spawn-calls.c): no child_process to load, no fork of Node. Its
 * exit is awaited and its sync and explain fds read on threads of the addon's
 * own. Pipes or streams for the container's stdio need child_process. Both
 * ways speak the same protocol, in followLaunch.
 */
import { spawn, type StdioNull, type StdioPipe } from 'node:child_process';
import fs from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Stream, Writable } from 'node:stream';
import util from 'node:util';
import { EngineError, findCause, silentExplainer, type ErrorCode, type Explainer } from '../common/index.js';
import { nativeBinaryPath, spawnWithChannels, waitChildExit, type SpawnedWithChannels } from './native.js';
import { fdLineReader, forwardExplainLines, lineReader, type LineReader } from './line-protocol.js';

export type LaunchStdio = StdioNull | StdioPipe | number | Stream;

export interface LaunchContainerOptions {
  /** The container's stdin, stdout and stderr; default inherit. */
  stdio?: [LaunchStdio?, LaunchStdio?, LaunchStdio?];
  explainer?: Explainer;
  /** Called with the host pid before the process goes on (put it in its cgroup here). Throwing kills it. */
  onPid?: (pid: number) => Promise<void> | void;
  /** Default: build/Release/didactic-launcher. */
  launcherPath?: string;
  /** -t: a pseudo-terminal for the container, relayed to and from stdin/stdout. */
  terminal?: boolean;
  /**
   * cgroup.procs files the launcher's helper joins before it clones the
   * container's first process, which is so born in its cgroups (then onPid
   * need not move it). Started with prepareLaunch well before the plan is
   * ready, the kernel's wait on that first move overlaps the planning.
   */
  joinCgroup?: readonly string[];
  /**
   * The plan makes a new network namespace: the launcher's helper makes it at
   * once and reports its own pid (`NET <pid>`), so that the network can be
   * attached (PendingLaunch.netnsHolder) while the plan is still being made.
   */
  newNetns?: boolean;
}

/** A launcher started before its plan exists: launch() sends the plan; abort() ends it when planning failed. */
export interface PendingLaunch {
  /** Sends the plan; onPid as in LaunchContainerOptions (given here, since it is often made while planning). */
  launch(plan: Buffer, onPid?: LaunchContainerOptions['onPid']): Promise<LaunchedContainer>;
  /** Ends the launcher that never got a plan (idempotent; a no-op once launch was called). */
  abort(): Promise<void>;
  /**
   * With newNetns: the pid of the helper that holds the container's new
   * network namespace (/proc/<pid>/ns/net) until it has cloned the container,
   * i.e. until the plan is sent. Rejects when the launcher failed first.
   */
  netnsHolder(): Promise<number>;
}

export interface ContainerExit {
  /** The container's exit code, or 128 + the signal that killed it. */
  status: number;
}

export interface LaunchedContainer {
  /** The container's first process as the host sees it. */
  pid: number;
  /** The launcher, its parent. */
  launcherPid: number;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** Settles when the container's first process has ended. */
  exited: Promise<ContainerExit>;
  /** Sends a signal to the container (through the launcher, or directly for SIGKILL and SIGSTOP). */
  kill(signal?: NodeJS.Signals): void;
}

/** Why the launcher could not start the container: the ERR line, kept as the EngineError's cause. */
export class LaunchFailure extends Error {
  constructor(
    readonly errno: number,
    /** The errno's name, e.g. ENOENT. */
    readonly errnoName: string,
    /** The launcher's step: clone, mount, pivot_root, capset, exec, ... */
    readonly step: string,
    readonly detail: string,
  ) {
    super(`${step} ${detail}: ${errnoName}`);
    this.name = 'LaunchFailure';
  }
}

/** The LaunchFailure behind an error from launchContainer, if there is one. */
export function launchFailureOf(error: unknown): LaunchFailure | undefined {
  return findCause(error, (cause): cause is LaunchFailure => cause instanceof LaunchFailure);
}

/** Docker's statuses for a command that cannot run: 127 not found, 126 not invokable; undefined otherwise. */
export function execFailureStatus(error: unknown): 126 | 127 | undefined {
  const failure = launchFailureOf(error);
  if (failure?.step !== 'exec') return undefined;
  return failure.errnoName === 'ENOENT' ? 127 : 126;
}

function errorCodeFor(errnoName: string): ErrorCode {
  if (errnoName === 'ENOENT') return 'NOT_FOUND';
  if (errnoName === 'EACCES' || errnoName === 'EPERM') return 'PERMISSION_DENIED';
  if (errnoName === 'EINVAL') return 'INVALID_ARGUMENT';
  return 'FAILED_PRECONDITION';
}

/** The EngineError for an ERR line, in Docker's words for exec failures. */
export function launchError(line: string): EngineError {
  const match = /^ERR (\d+) (\S+) ?(.*)$/.exec(line);
  if (match === null) return new EngineError('INTERNAL', `start container: unexpected launcher message ${JSON.stringify(line)}`);
  const errno = Number(match[1]);
  const [step, detail] = [match[2]!, match[3]!];
  const [errnoName, text] = util.getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, `errno ${errno}`];
  const cause = new LaunchFailure(errno, errnoName, step, detail);
  let message = `start container: ${step}${detail ? `: ${detail}` : ''}: ${text}`;
  if (step === 'exec' && errnoName === 'ENOENT') {
    message = detail.includes('/')
      ? `start container: exec: "${detail}": stat ${detail}: no such file or directory`
      : `start container: exec: "${detail}": executable file not found in $PATH`;
  } else if (step === 'exec' && errnoName === 'EACCES') {
    message = `start container: exec: "${detail}": permission denied`;
  }
  return new EngineError(step === 'plan' ? 'INTERNAL' : errorCodeFor(errnoName), message, { cause });
}

/**
 * A started launcher, however it was started: what the protocol in
 * followLaunch needs of it.
 */
interface LauncherProcess {
  pid: number;
  /** The sync channel's lines. */
  lines: LineReader;
  /** Writes on the sync channel. */
  send(text: string): void;
  /** Sends the plan (none: null) and closes the plan channel. */
  sendPlan(plan: Buffer | null): void;
  /** Settles after the launcher has exited and its explain lines are forwarded. */
  exited: Promise<ContainerExit>;
  /** True once the launcher is known to have exited. */
  hasExited(): boolean;
  /** Signals the launcher itself (which forwards most signals to the container). */
  signal(signal: NodeJS.Signals): void;
  /** The protocol is over: lets go of the sync channel. */
  release(): void;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
}

/**
 * The requested stdio as plain fds of this process (-1: /dev/null) when each
 * is 'inherit', 'ignore' or an fd; undefined when one needs a pipe or a stream.
 */
function plainFds(stdio: readonly LaunchStdio[]): [number, number, number] | undefined {
  const fds = stdio.map((value, index) => (value === 'inherit' ? index : value === 'ignore' ? -1 : typeof value === 'number' ? value : undefined));
  return fds.every((fd) => fd !== undefined) ? (fds as [number, number, number]) : undefined;
}

/**
 * The CLI's way: posix_spawn from the addon (native/addon/spawn-calls.c), a
 * vfork-style clone that copies nothing of this process, where child_process
 * (loading it, then libuv forking all of Node) costs 10-15 ms of every run.
 */
function startNative(file: string, args: string[], fds: [number, number, number], explainer: Explainer): LauncherProcess {
  let spawned: SpawnedWithChannels;
  try {
    spawned = spawnWithChannels(file, args, fds, explainer.enabled);
  } catch (error) {
    throw new EngineError('UNAVAILABLE', `start container: run ${file}: ${(error as Error).message}`, { cause: error });
  }
  const { pid } = spawned;
  const explained = spawned.explain >= 0 ? forwardExplainLines(fdLineReader(spawned.explain), explainer) : Promise.resolve();
  let ended = false;
  const exited = waitChildExit(pid).then(
    async ({ code, signal }) => {
      ended = true;
      await explained;
      return { status: code ?? 128 + (signal ?? 0) };
    },
    async () => {
      ended = true; // ECHILD: not ours to wait for any more, which should not happen
      await explained;
      return { status: 125 };
    },
  );
  const lines = fdLineReader(spawned.sync);
  let planFd = spawned.plan;
  return {
    pid,
    lines,
    send: (text) => {
      try {
        fs.writeSync(spawned.sync, text);
      } catch {
        // EPIPE/ECONNRESET: the launcher is gone; the lines and the exit say why
      }
    },
    sendPlan: (plan) => {
      const fd = planFd;
      if (fd < 0) return;
      planFd = -1;
      if (plan === null || plan.length === 0) return fs.closeSync(fd);
      // A pipe takes 64 KiB before a write blocks; a bigger plan waits for the helper on the threadpool instead of here.
      if (plan.length <= 65536) {
        try {
          fs.writeSync(fd, plan);
        } catch {
          // EPIPE when the launcher died early: reported through the sync channel
        }
        return fs.closeSync(fd);
      }
      fs.write(fd, plan, () => fs.close(fd, () => undefined));
    },
    exited,
    hasExited: () => ended,
    signal: (signal) => {
      if (ended) return;
      try {
        process.kill(pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    },
    release: () => lines.close(),
    stdin: null,
    stdout: null,
    stderr: null,
  };
}

/** The API's way when it wants pipes or streams for the container's stdio. */
async function startWithChildProcess(file: string, args: string[], stdio: LaunchStdio[], explainer: Explainer): Promise<LauncherProcess> {
  const child = spawn(file, args, { stdio: [stdio[0]!, stdio[1]!, stdio[2]!, 'pipe', 'pipe', explainer.enabled ? 'pipe' : 'ignore'] });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawnError !== undefined) {
    throw new EngineError('UNAVAILABLE', `start container: run ${file}: ${spawnError.message}`, { cause: spawnError });
  }
  const pipes = child.stdio as unknown as (Readable & Writable | null)[];
  const [planPipe, sync, explainPipe] = [pipes[3]!, pipes[4]!, pipes[5] ?? null];
  const explained = explainPipe ? forwardExplainLines(explainPipe, explainer) : Promise.resolve();
  const exited = new Promise<ContainerExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ status: code ?? 128 + (signal ? constants.signals[signal] : 0) }));
  }).then(async (exit) => (await explained, exit));
  planPipe.on('error', () => {}); // EPIPE when the launcher died early: reported through the sync channel
  sync.on('error', () => {});
  return {
    pid: child.pid!,
    lines: lineReader(sync),
    send: (text) => void sync.write(text),
    sendPlan: (plan) => void (plan === null ? planPipe.end() : planPipe.end(plan)),
    exited,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    signal: (signal) => void child.kill(signal),
    release: () => undefined, // the socket ends with the launcher
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
  };
}

/**
 * Starts a container from an encoded launch plan. Resolves once the
 * container's command is executing; rejects with an EngineError naming the
 * launcher's step (cause: LaunchFailure) when it fails before that, after the
 * launcher has exited, so nothing is left running.
 */
export async function launchContainer(plan: Buffer, options: LaunchContainerOptions = {}): Promise<LaunchedContainer> {
  return (await prepareLaunch(options)).launch(plan);
}

/**
 * Starts the launcher now; it waits for its plan (and its helper joins the
 * cgroups meanwhile). With stdio that are all inherit, ignore or fds (the
 * CLI's foreground run) it starts through the addon, else through child_process.
 */
export async function prepareLaunch(options: LaunchContainerOptions = {}): Promise<PendingLaunch> {
  const file = options.launcherPath ?? nativeBinaryPath('didactic-launcher');
  const explainer = options.explainer ?? silentExplainer;
  const [stdin = 'inherit', stdout = 'inherit', stderr = 'inherit'] = options.stdio ?? [];
  const args = [
    ...(options.terminal === true ? ['--tty'] : []),
    ...(options.newNetns === true ? ['--new-netns'] : []),
    ...(options.joinCgroup ?? []).flatMap((procs) => ['--join-cgroup', procs]),
  ];
  const fds = plainFds([stdin, stdout, stderr]);
  const launcher = fds !== undefined ? startNative(file, args, fds, explainer) : await startWithChildProcess(file, args, [stdin, stdout, stderr], explainer);
  // With --new-netns the helper's first line is NET <pid> (or ERR when it could not make the namespace).
  const netns = options.newNetns === true ? readNetLine(launcher) : undefined;
  netns?.catch(() => undefined); // handled by netnsHolder's caller or by launch
  let used = false;
  return {
    launch: (plan, onPid = options.onPid) => {
      if (used) return Promise.reject(new EngineError('INTERNAL', 'start container: this launcher was already given its plan'));
      used = true;
      launcher.sendPlan(plan);
      const ready = netns === undefined ? Promise.resolve() : netns.then(() => undefined, async (error: unknown) => {
        await launcher.exited;
        throw error;
      });
      return ready.then(() => followLaunch(launcher, onPid)).finally(() => launcher.release());
    },
    netnsHolder: () => netns ?? Promise.reject(new EngineError('INTERNAL', 'start container: the launcher was not asked to make a network namespace')),
    abort: async () => {
      if (used) return;
      used = true;
      launcher.sendPlan(null); // no plan: the helper reports ERR plan (nobody listens) and the launcher exits
      await launcher.exited;
      launcher.release();
    },
  };
}

/** The helper's NET line: the pid holding the new network namespace. */
function readNetLine(launcher: LauncherProcess): Promise<number> {
  return readPidLine(launcher, 'NET', 'making the network namespace');
}

/**
 * The next line, which must be `<prefix> <pid>`: its pid. An ERR line instead
 * rejects with the launcher's error, anything else as an internal one; both
 * once the launcher has exited, so that nothing of it is left running.
 */
async function readPidLine(launcher: LauncherProcess, prefix: 'NET' | 'PID', before: string): Promise<number> {
  const line = await launcher.lines.next();
  if (line?.startsWith(`${prefix} `)) return Number(line.slice(prefix.length + 1));
  const { status } = await launcher.exited;
  if (line?.startsWith('ERR ')) throw launchError(line);
  throw new EngineError('INTERNAL', `start container: the launcher exited with status ${status} before ${before}`);
}

/** The launcher's side of the protocol after the plan was sent: PID, onPid, GO, then EOF or ERR. */
async function followLaunch(launcher: LauncherProcess, onPid: LaunchContainerOptions['onPid']): Promise<LaunchedContainer> {
  const { lines, exited } = launcher;
  const failed = async (error: EngineError): Promise<never> => {
    await exited;
    throw error;
  };
  const pid = await readPidLine(launcher, 'PID', 'reporting a pid');
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (launcher.hasExited()) return;
    if (signal !== 'SIGKILL' && signal !== 'SIGSTOP') {
      launcher.signal(signal);
      return;
    }
    // The launcher may already have reaped the container (after it reported ERR):
    // then the pid is gone (ESRCH), which is what the kill wanted. It cannot have
    // been reused, since the launcher still runs and pids wrap only far later.
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  };
  try {
    await onPid?.(pid);
  } catch (error) {
    kill('SIGKILL');
    await exited;
    throw error;
  }
  launcher.send('GO\n');
  const second = await lines.next();
  if (second !== null) {
    kill('SIGKILL');
    return failed(launchError(second));
  }
  return { pid, launcherPid: launcher.pid, stdin: launcher.stdin, stdout: launcher.stdout, stderr: launcher.stderr, exited, kill };
}
