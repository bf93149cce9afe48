/**
 * Running the real CLI (bin/didactic-container.js) against a test's own
 * roots, the way a user would, with its output captured.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TempRoot } from './tmp-root.js';

/** dist/test/helpers/cli.js -> the repository's bin/. */
export const CLI_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to the CLI's stdin, which is then closed (empty by default). */
  input?: string;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Called once the CLI runs, e.g. to signal it or read its output early. */
  onSpawn?: (pid: number, stdout: NodeJS.ReadableStream) => void;
}

/**
 * Starts `didactic-container --root R --run-root RR ARGS...` (credentials kept
 * in the test's dir); `done` gives its status and output once it ends, and
 * `child` lets a test kill it on the way.
 */
export function startCli(root: TempRoot, args: string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI_BIN, '--root', root.root, '--run-root', root.runRoot, ...args], {
    env: { ...process.env, DIDACTIC_CONTAINER_AUTH: path.join(root.dir, 'auth.json'), ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => {
    // The CLI may exit without reading its stdin.
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => options.onSpawn?.(child.pid!, child.stdout));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
  child.stdin.end(options.input ?? '');
  return { child, done };
}

export function runCli(root: TempRoot, args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(root, args, options).done;
}

/** runCli that must exit 0; the assertion shows the CLI's stderr otherwise. */
export async function runCliOk(root: TempRoot, args: string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await runCli(root, args, options);
  assert.equal(result.status, 0, `${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
  return result;
}

/** The command's `--format json` output, parsed (it must exit 0). */
export async function runCliJson<T = any>(root: TempRoot, args: string[]): Promise<T> {
  return JSON.parse((await runCliOk(root, [...args, '--format', 'json'])).stdout) as T;
}
