/**
 * Running a short helper program to completion with its output captured: a
 * CNI plugin (JSON on stdin, the CNI_* environment, JSON on stdout), `ip`,
 * `iptables-save`. Only sys/ imports child_process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { EngineError } from '../common/index.js';

export interface CaptureOptions {
  /** The whole environment of the program; default the engine's. */
  env?: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed. */
  input?: string;
  /** Killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
}

export interface CapturedRun {
  /** The exit code, or 128 + the number of the signal that ended it. */
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `file` with `args` and waits for it. Rejects with NOT_FOUND when the
 * program does not exist, UNAVAILABLE when it cannot be started or times out;
 * a non-zero exit is returned, not thrown.
 */
export function runCaptured(file: string, args: readonly string[], options: CaptureOptions = {}): Promise<CapturedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(options.env === undefined ? {} : { env: options.env }) });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {
      // The program may exit without reading its stdin; its status tells.
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = error.code === 'ENOENT' ? 'NOT_FOUND' : 'UNAVAILABLE';
      reject(new EngineError(code, `run ${file}: ${error.code === 'ENOENT' ? 'no such program' : error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new EngineError('UNAVAILABLE', `run ${file}: no answer within ${options.timeoutMs ?? 60_000} ms`));
        return;
      }
      resolve({
        status: code ?? 128 + (signal ? constants.signals[signal] : 0),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** runCaptured for short steps inside synchronous code (a few `ip` calls under a lock). */
export function runCapturedSync(file: string, args: readonly string[], options: CaptureOptions = {}): CapturedRun {
  const result = spawnSync(file, args, {
    encoding: 'utf8',
    ...(options.input === undefined ? {} : { input: options.input }),
    timeout: options.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  if (result.error !== undefined) {
    const error = result.error as NodeJS.ErrnoException;
    if (error.code === 'ENOENT') throw new EngineError('NOT_FOUND', `run ${file}: no such program`, { cause: error });
    if (error.code === 'ETIMEDOUT') throw new EngineError('UNAVAILABLE', `run ${file}: no answer within ${options.timeoutMs ?? 60_000} ms`, { cause: error });
    throw new EngineError('UNAVAILABLE', `run ${file}: ${error.message}`, { cause: error });
  }
  return {
    status: result.status ?? 128 + (result.signal ? constants.signals[result.signal] : 0),
    stdout: result.stdout,
    stderr: result.stderr,
  };
}
