/**
 * The test entry point (`npm test` runs it after tsc): finds every compiled
 * `*.test.js` under dist/src (unit) and dist/test (integration, e2e), starts
 * one registry with the test images for the whole run when root, and hands
 * the files to node's own test runner. Its summary is the last thing printed.
 *
 *   node dist/test/run.js          all tests
 *   node dist/test/run.js --unit   only dist/src
 *   node dist/test/run.js run tty  only the files whose path contains "run" or "tty"
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { buildTestImages } from './helpers/images.js';

const distRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const projectRoot = dirname(distRoot);

/** Compiled test files below `dir`, skipping ones whose TypeScript source is gone. */
function findTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(full));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) {
      const source = join(projectRoot, relative(distRoot, full)).replace(/\.js$/, '.ts');
      if (existsSync(source)) out.push(full);
    }
  }
  return out;
}

async function main(): Promise<number> {
  const unitOnly = process.argv.includes('--unit');
  // Other arguments pick files: a test file runs when its path contains one of them.
  const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const all = [...findTests(join(distRoot, 'src')).sort()];
  if (!unitOnly) all.push(...findTests(join(distRoot, 'test')).sort());
  const files = only.length === 0 ? all : all.filter((file) => only.some((part) => file.includes(part)));
  if (files.length === 0) {
    console.error(`no compiled *.test.js files under ${distRoot}; run tsc first`);
    return 1;
  }
  const env = { ...process.env };
  let registry: TestRegistry | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  let interrupted: NodeJS.Signals | undefined;

  const onSignal = (signal: NodeJS.Signals) => {
    const again = interrupted !== undefined;
    interrupted = signal;
    // The test runner is in our process group and usually got the signal too;
    // send it anyway in case it came from kill(1) aimed at us alone. A second
    // signal stops it for good.
    if (child && child.exitCode === null && child.pid !== undefined) child.kill(again ? 'SIGKILL' : signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    if (!unitOnly) {
      if (process.getuid?.() === 0) {
        registry = await startRegistry();
        if (interrupted) return 130;
        const images = await buildTestImages(registry.host);
        env['DCTR_TEST_REGISTRY'] = registry.host;
        env['DCTR_TEST_IMAGES'] = JSON.stringify(images);
      } else {
        console.log('integration tests will skip: they need root (namespaces, mounts, cgroups, chroot), and this is not root');
      }
    }
    if (interrupted) return 130;
    const started = spawn(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
    child = started;
    return await new Promise<number>((resolve) => {
      started.once('error', () => resolve(1));
      started.once('exit', (code, signal) => {
        if (code !== null && code !== 0) resolve(code);
        else if (interrupted || signal) resolve(130); // an interrupted run never passes
        else resolve(code ?? 1);
      });
    });
  } finally {
    if (registry) await registry.stop();
  }
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    console.error(`test setup failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
