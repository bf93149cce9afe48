/**
 * Pseudo-terminals through a real one: the CLI runs under util-linux
 * `script`, which gives it a pty as stdin/stdout (sized with stty first); the
 * test types into script's stdin and reads what the container's terminal
 * shows. Covers run -it (tty, stty size, exit status), run -dit + attach with
 * Ctrl-P Ctrl-Q detach and a second attach, exec -it, the log of a
 * terminal's output, and start -a / start -ai of containers created with -t.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedImages } from '../helpers/images.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');
const skip = process.getuid?.() !== 0 ? 'needs root' : spawnSync('script', ['--version']).status !== 0 ? 'needs util-linux script' : false;

let root: TempRoot;
let imageRef: string;
const started: ChildProcess[] = [];

function cli(...args: string[]) {
  return spawnSync(process.execPath, [BIN, '--root', root.root, '--run-root', root.runRoot, ...args], { encoding: 'utf8', timeout: 60_000 });
}

function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The CLI under `script` in a pty of rows x cols; type() writes keys, waitFor() reads the screen. */
function inTerminal(rows: number, cols: number, args: string[]) {
  const command = [process.execPath, BIN, '--root', root.root, '--run-root', root.runRoot, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', `stty rows ${rows} cols ${cols}; exec ${command}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child);
  let screen = '';
  let waiter: (() => void) | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString('utf8');
    waiter?.();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    screen += chunk.toString('utf8');
    waiter?.();
  });
  const status = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    status,
    screen: () => screen,
    type(keys: string) {
      child.stdin.write(keys);
    },
    /** Waits until the screen (from offset `from`) matches; fails after ms with what was shown. */
    async waitFor(pattern: RegExp, from = 0, ms = 20_000): Promise<string> {
      const deadline = Date.now() + ms;
      for (;;) {
        const seen = screen.slice(from);
        if (pattern.test(seen)) return seen;
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`waited for ${pattern} and saw ${JSON.stringify(seen)}`);
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 200);
        });
      }
    },
    /** Resizes the CLI's terminal from outside (stty -F on it): the kernel sends its group SIGWINCH. */
    resize(newRows: number, newCols: number) {
      const children = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/);
      const tty = fs.readlinkSync(`/proc/${children[0]}/fd/0`);
      const done = spawnSync('stty', ['-F', tty, 'rows', String(newRows), 'cols', String(newCols)], { encoding: 'utf8' });
      assert.equal(done.status, 0, done.stderr);
    },
  };
}

before(async () => {
  if (skip) return;
  root = createTempRoot('dctr-tty-');
  const images = await sharedImages();
  imageRef = images.busybox.ref;
  const pulled = cli('pull', '-q', imageRef);
  assert.equal(pulled.status, 0, pulled.stderr);
});

after(() => {
  if (skip) return;
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  const listed = cli('ps', '-aq');
  for (const id of listed.stdout.split('\n').filter(Boolean)) cli('rm', '-f', id);
  root?.dispose();
});

test('run -it: a terminal of the caller\'s size, typed commands, exit status', { skip }, async () => {
  const term = inTerminal(30, 100, ['run', '-it', '--rm', '--network', 'none', imageRef, 'sh']);
  await term.waitFor(/# (\x1b\[6n)?$/);
  const mark = term.screen().length;
  term.type('tty; stty size; echo hi-$((1+2))\r');
  const seen = await term.waitFor(/hi-3/, mark);
  assert.match(seen, /\/dev\/pts\/\d+|\/dev\/console/);
  assert.match(seen, /^30 100\r?$/m);
  term.resize(33, 111);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const later = term.screen().length;
  term.type('stty size\r');
  await term.waitFor(/^33 111\r?$/m, later);
  term.type('exit 5\r');
  assert.equal(await term.status, 5);
  assert.deepEqual(mountsBelow(path.join(root.root, 'containers')), []);
});

test('run -dit, attach, Ctrl-P Ctrl-Q, exec -it, attach again until exit', { skip }, async () => {
  const run = cli('run', '-dit', '--name', 'tty1', '--network', 'none', imageRef, 'sh');
  assert.equal(run.status, 0, run.stderr);
  const id = run.stdout.trim();
  assert.ok(fs.existsSync(path.join(root.runRoot, id, 'attach')), 'the monitor serves the attach socket');

  const first = inTerminal(40, 120, ['attach', 'tty1']);
  await new Promise((resolve) => setTimeout(resolve, 500));
  first.type('stty size; echo at-$((2+3))\r');
  const seen = await first.waitFor(/at-5/);
  assert.match(seen, /^40 120\r?$/m);
  first.resize(41, 121);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const later = first.screen().length;
  first.type('stty size\r');
  await first.waitFor(/^41 121\r?$/m, later);
  first.type('\x10\x11');
  assert.equal(await first.status, 0, first.screen());
  const inspect = cli('inspect', '-f', '{{.State.Running}}', 'tty1');
  assert.equal(inspect.stdout.trim(), 'true', 'detaching leaves the container running');

  const exec = inTerminal(25, 90, ['exec', '-it', 'tty1', 'sh']);
  await exec.waitFor(/# (\x1b\[6n)?$/);
  const mark = exec.screen().length;
  exec.type('tty; stty size; echo term-$TERM; echo ex-$((3+4)); exit 3\r');
  const execSeen = await exec.waitFor(/ex-7/, mark);
  assert.match(execSeen, /\/dev\/pts\/\d+/);
  assert.match(execSeen, /^25 90\r?$/m);
  assert.match(execSeen, /term-xterm/);
  assert.equal(await exec.status, 3);

  const second = inTerminal(24, 80, ['attach', 'tty1']);
  await new Promise((resolve) => setTimeout(resolve, 500));
  second.type('echo again-$((1+1))\r');
  await second.waitFor(/again-2/);
  second.type('exit 7\r');
  assert.equal(await second.status, 7, second.screen());

  const logs = cli('logs', 'tty1');
  assert.match(logs.stdout, /at-5/, 'the terminal\'s output is in the log');
  assert.match(logs.stdout, /again-2/);
  assert.equal(cli('rm', '-f', 'tty1').status, 0);
  assert.ok(!fs.existsSync(path.join(root.runRoot, id, 'attach')));
});

// The monitor learns our window size when we connect, just after the start: hence the sleep.
test('create -t + start -a: the terminal\'s output at our window size, exit status', { skip }, async () => {
  const created = cli('create', '-t', '--name', 'tty2', '--network', 'none', imageRef, 'sh', '-c', 'sleep 1; stty size; echo st-$((2+2)); exit 4');
  assert.equal(created.status, 0, created.stderr);
  const term = inTerminal(27, 95, ['start', '-a', 'tty2']);
  const seen = await term.waitFor(/st-4/);
  assert.match(seen, /^27 95\r?$/m);
  assert.equal(await term.status, 4, term.screen());
  assert.equal(cli('rm', 'tty2').status, 0);
});


test('create -it + start -ai: typed commands, Ctrl-P Ctrl-Q, start -ai again after exit', { skip }, async () => {
  const created = cli('create', '-it', '--name', 'tty3', '--network', 'none', imageRef, 'sh');
  assert.equal(created.status, 0, created.stderr);
  const term = inTerminal(31, 101, ['start', '-ai', 'tty3']);
  await term.waitFor(/# (\x1b\[6n|\x1b\[J)*$/);
  const mark = term.screen().length;
  term.type('stty size; echo ai-$((4+5))\r');
  const seen = await term.waitFor(/ai-9/, mark);
  assert.match(seen, /^31 101\r?$/m);
  term.type('\x10\x11');
  assert.equal(await term.status, 0, term.screen());
  assert.equal(cli('inspect', '-f', '{{.State.Running}}', 'tty3').stdout.trim(), 'true', 'detaching leaves it running');

  const back = inTerminal(24, 80, ['attach', 'tty3']);
  await new Promise((resolve) => setTimeout(resolve, 500));
  back.type('exit 6\r');
  assert.equal(await back.status, 6, back.screen());

  const again = inTerminal(24, 80, ['start', '-ai', 'tty3']);
  await again.waitFor(/# (\x1b\[6n|\x1b\[J)*$/);
  again.type('exit 2\r');
  assert.equal(await again.status, 2, again.screen());
  assert.equal(cli('rm', 'tty3').status, 0);
});
