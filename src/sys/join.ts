/**
 * Running something inside a running container through native/join
 * (didactic-join): `exec` and the container's side of `cp`.
 *
 * A multithreaded process cannot setns(2) into a mount namespace, so Node
 * starts the small C helper, which joins the namespaces named in its plan
 * (the launch-plan format, fd 3) and then:
 *
 *   exec / exec-detach   forks (children land in the joined pid namespace),
 *                        the child takes the container's identity and execs;
 *                        fd 4 says "PID <n>", then EOF once the command runs
 *                        or "ERR <errno> <step> <detail>"
 *   tar-create           writes a tar of a container path to its stdout
 *   tar-extract          unpacks a tar from its stdin into a container path
 *
 * With `terminal` (exec -t) the helper runs as `exec --tty`: it opens a
 * pseudo-terminal in the container's devpts and relays between it and its
 * own fd 0 and 1 (native/launcher/console.h).
 *
 * The helper reads its plan only after onSpawn returned: that is the moment
 * to write its pid into the container's cgroup.procs files, so that the
 * command it forks starts inside the container's cgroups.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { EngineError, silentExplainer, type Explainer } from '../common/index.js';
import { launchError, type LaunchStdio } from './launcher.js';
import { nativeBinaryPath } from './native.js';
import { forwardExplainLines, lineReader } from './line-protocol.js';

export type JoinMode = 'exec' | 'exec-detach' | 'tar-create' | 'tar-extract';

export interface JoinOptions {
  mode: JoinMode;
  /** stdin, stdout, stderr of the helper (and of the command for exec); default inherit. */
  stdio?: [LaunchStdio?, LaunchStdio?, LaunchStdio?];
  explainer?: Explainer;
  /** Called with the helper's pid before it reads its plan; throwing kills it. */
  onSpawn?: (pid: number) => Promise<void> | void;
  /** What the error messages say was being done, e.g. `exec in web`. Default `join container`. */
  what?: string;
  /** Default: build/Release/didactic-join. */
  joinPath?: string;
  /** exec: a pseudo-terminal for the command, relayed to and from stdin/stdout. */
  terminal?: boolean;
}

export interface JoinedProcess {
  /** exec: the command's host pid; tar modes: the helper's. */
  pid: number;
  helperPid: number;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** The helper's end: exec: the command's status (128 + signal when killed); exec-detach: 0; tar: 0, or 1 with `failure` set. */
  exited: Promise<{ status: number }>;
  /** tar modes: the helper's ERR line as an EngineError once it ended, or undefined. */
  failure: Promise<EngineError | undefined>;
  /** Signals the helper, which forwards SIGINT/TERM/HUP/QUIT/USR1/USR2 to the command; SIGKILL goes to both. */
  kill(signal?: NodeJS.Signals): void;
}


function exitOf(child: ChildProcess): Promise<{ status: number }> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ status: code ?? 128 + (signal ? constants.signals[signal] : 0) }));
  });
}

/** An ERR line in the words of the operation (`exec in web: exec: "x": executable file not found in $PATH`). */
function joinError(line: string, what: string): EngineError {
  const error = launchError(line);
  const message = error.message.replace(/^start container: /, `${what}: `);
  return new EngineError(error.code, message, { cause: error.cause, ...(error.hint === undefined ? {} : { hint: error.hint }) });
}

/**
 * Starts didactic-join with an encoded plan. Exec modes resolve once the
 * command runs, and reject with an EngineError (cause: LaunchFailure, so
 * execFailureStatus gives 127/126) when it could not, after the helper
 * ended. Tar modes resolve as soon as the plan is sent: stream through
 * stdin/stdout, then await `exited` and `failure`.
 */
export async function startJoined(plan: Buffer, options: JoinOptions): Promise<JoinedProcess> {
  const file = options.joinPath ?? nativeBinaryPath('didactic-join');
  const what = options.what ?? 'join container';
  const explainer = options.explainer ?? silentExplainer;
  const [stdin = 'inherit', stdout = 'inherit', stderr = 'inherit'] = options.stdio ?? [];
  const child = spawn(file, options.terminal === true && options.mode === 'exec' ? [options.mode, '--tty'] : [options.mode], { stdio: [stdin, stdout, stderr, 'pipe', 'pipe', explainer.enabled ? 'pipe' : 'ignore'] });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawnError !== undefined) throw new EngineError('UNAVAILABLE', `${what}: run ${file}: ${spawnError.message}`, { cause: spawnError });
  const pipes = child.stdio as unknown as (Readable & Writable | null)[];
  const [planPipe, sync, explainPipe] = [pipes[3]!, pipes[4]!, pipes[5] ?? null];
  const explained = explainPipe ? forwardExplainLines(explainPipe, explainer) : Promise.resolve();
  const exited = exitOf(child).then(async (exit) => (await explained, exit));
  planPipe.on('error', () => {}); // EPIPE when the helper died early: the sync channel says why
  sync.on('error', () => {});
  const kill = (signal: NodeJS.Signals = 'SIGTERM', commandPid?: number) => {
    if (commandPid !== undefined && signal === 'SIGKILL') {
      try {
        process.kill(commandPid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  try {
    await options.onSpawn?.(child.pid!);
  } catch (error) {
    kill('SIGKILL');
    await exited;
    throw error;
  }
  planPipe.end(plan);
  const reader = lineReader(sync);
  const base = { helperPid: child.pid!, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exited };

  if (options.mode === 'tar-create' || options.mode === 'tar-extract') {
    const failure = (async () => {
      const line = await reader.next();
      await exited;
      return line?.startsWith('ERR ') ? joinError(line, what) : undefined;
    })();
    return { ...base, pid: child.pid!, failure, kill: (signal) => kill(signal) };
  }

  const first = await reader.next();
  if (first === null || !first.startsWith('PID ')) {
    const { status } = await exited;
    if (first?.startsWith('ERR ')) throw joinError(first, what);
    throw new EngineError('INTERNAL', `${what}: the join helper exited with status ${status} before reporting a pid`);
  }
  const pid = Number(first.slice(4));
  const second = await reader.next();
  if (second !== null) {
    await exited;
    throw joinError(second, what);
  }
  return { ...base, pid, failure: Promise.resolve(undefined), kill: (signal) => kill(signal, pid) };
}
