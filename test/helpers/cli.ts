/**
 * Running the real CLI (bin/didactic-container.js) against a test's own
 * roots, the way a user would, with its output captured.
 */
import { spawn } from 'node:child_process';
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

/** Runs `didactic-container --root R --run-root RR ARGS...`; credentials are kept in the test's dir. */
export function runCli(root: TempRoot, args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
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
    child.once('error', reject);
    child.once('spawn', () => options.onSpawn?.(child.pid!, child.stdout));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
