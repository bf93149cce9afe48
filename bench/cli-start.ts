/**
 * CLI start-up: `didactic-container version` against `node -e 0` (Node's own
 * start is the floor), run interleaved so both see the same machine load.
 * Reports medians and the ratio. Run: node dist/bench/cli-start.js [runs]
 *
 * Wall time on a busy 2-core VM is noisy; `--instructions` counts the
 * instructions each start executes under valgrind's callgrind instead, which
 * is repeatable whatever else the machine is doing.
 *
 * `--against DIR` also runs DIR/bin/didactic-container.js (another build, e.g.
 * a copy of an older commit's bin/, dist/ and package.json) in the same
 * rounds, for a before/after under the same load.
 *
 * The first (untimed) run of each command leaves the bundle's code cache
 * (dist/bundle/cli/cache, see bin/didactic-container.js) as a user's first
 * run would; the timed runs use it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/didactic-container.js');
const byInstructions = process.argv.includes('--instructions');
const runs = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 40);
const againstIndex = process.argv.indexOf('--against');
const against = againstIndex < 0 ? undefined : path.resolve(process.argv[againstIndex + 1] ?? '.', 'bin/didactic-container.js');

// `images` on a root of its own, made once (the first run creates the database) and removed at the end.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-bench-start-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

const commands: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'didactic-container version': [BIN, 'version'],
  'didactic-container images': [BIN, '--root', root, 'images'],
  ...(against === undefined
    ? {}
    : { 'against: version': [against, 'version'], 'against: images': [against, '--root', `${root}-against`, 'images'] }),
};
if (against !== undefined) process.on('exit', () => fs.rmSync(`${root}-against`, { recursive: true, force: true }));

function timeOnce(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Instructions executed by one run, counted by callgrind. */
function instructionsOnce(args: string[]): number {
  const result = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, ...args], { encoding: 'utf8' });
  const match = /Collected : (\d+)/.exec(result.stderr);
  if (match === null) throw new Error(`valgrind did not report a count for ${args.join(' ')} (is valgrind installed?)`);
  return Number(match[1]);
}

if (byInstructions) {
  for (const args of Object.values(commands)) timeOnce(args); // leave each command's code cache
  const counts = Object.fromEntries(Object.entries(commands).map(([name, args]) => [name, instructionsOnce(args)]));
  const floor = counts['node -e 0']!;
  for (const [name, count] of Object.entries(counts)) {
    console.log(`${name.padEnd(40)} ${(count / 1e6).toFixed(0).padStart(6)} M instructions   ratio ${(count / floor).toFixed(2)}x`);
  }
  process.exit(0);
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
for (const args of Object.values(commands)) timeOnce(args); // warm the page cache
for (let i = 0; i < runs; i++) for (const [name, args] of Object.entries(commands)) samples[name]!.push(timeOnce(args));

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const floor = median(samples['node -e 0']!);
for (const [name, values] of Object.entries(samples)) {
  const m = median(values);
  console.log(`${name.padEnd(40)} median ${m.toFixed(1).padStart(6)} ms   ratio ${(m / floor).toFixed(2)}x`);
}
