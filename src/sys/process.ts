/**
 * Starting another program (an OCI runtime such as runc) and waiting for it.
 * Only sys/ imports child_process; the engine describes what to run and
 * calls in here.
 */
import { spawn, type StdioNull, type StdioPipe } from 'node:child_process';
import { constants } from 'node:os';
import type { Stream } from 'node:stream';
import { EngineError } from '../common/index.js';

export type ProcessStdio = StdioNull | StdioPipe | number | Stream;

export interface RunProcessOptions {
  /** stdin, stdout, stderr; default inherit. */
  stdio?: [ProcessStdio?, ProcessStdio?, ProcessStdio?];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunningProcess {
  pid: number;
  /** The exit code, or 128 + the number of the signal that ended it. */
  exited: Promise<{ status: number }>;
  /** Sends a signal unless the process has ended. */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `file` with `args`. Resolves once it runs; rejects with an
 * EngineError (NOT_FOUND when there is no such program, UNAVAILABLE
 * otherwise) when it cannot be started.
 */
export async function runProcess(file: string, args: readonly string[], options: RunProcessOptions = {}): Promise<RunningProcess> {
  const [stdin = 'inherit', stdout = 'inherit', stderr = 'inherit'] = options.stdio ?? [];
  const child = spawn(file, args, {
    stdio: [stdin, stdout, stderr],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const exited = new Promise<{ status: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ status: code ?? 128 + (signal ? constants.signals[signal] : 0) }));
  });
  const spawnError = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawnError !== undefined) {
    const code = spawnError.code === 'ENOENT' ? 'NOT_FOUND' : 'UNAVAILABLE';
    throw new EngineError(code, `run ${file}: ${spawnError.code === 'ENOENT' ? 'no such program' : spawnError.message}`, { cause: spawnError });
  }
  return {
    pid: child.pid!,
    exited,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
