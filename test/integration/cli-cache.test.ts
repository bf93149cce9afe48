/**
 * The CLI's V8 code cache (bin/didactic-container.js): written by the first
 * run of a command, used by the next, ignored and replaced when damaged, and
 * never a reason for a command to fail or print something else. Each test
 * runs a copy of bin/ and the bundle in a temp dir of its own, so that the
 * tree's cache, which other tests' CLIs use meanwhile, is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { CLI_BIN } from '../helpers/cli.js';
import { sharedImages } from '../helpers/images.js';

const TREE = path.resolve(path.dirname(CLI_BIN), '..');
const BUNDLE = path.join(TREE, 'dist', 'bundle', 'cli', 'main.cjs');
const skip = fs.existsSync(BUNDLE) ? false : 'no bundle: npm run build makes it';

/** bin/, the bundle and package.json copied; node_modules and the native build linked. */
function copyOfCli(options: { bundle?: boolean } = {}): { dir: string; bin: string; cacheDir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-cli-cache-'));
  fs.chmodSync(dir, 0o755);
  fs.cpSync(path.join(TREE, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(TREE, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(TREE, 'node_modules'), path.join(dir, 'node_modules'));
  fs.mkdirSync(path.join(dir, 'build'));
  fs.symlinkSync(path.join(TREE, 'build', 'Release'), path.join(dir, 'build', 'Release'));
  fs.mkdirSync(path.join(dir, 'dist', 'bundle', 'cli'), { recursive: true });
  if (options.bundle === false) fs.symlinkSync(path.join(TREE, 'dist', 'src'), path.join(dir, 'dist', 'src'));
  else fs.copyFileSync(BUNDLE, path.join(dir, 'dist', 'bundle', 'cli', 'main.cjs'));
  return {
    dir,
    bin: path.join(dir, 'bin', 'didactic-container.js'),
    cacheDir: path.join(dir, 'dist', 'bundle', 'cli', 'cache'),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

function cli(bin: string, args: string[], options: { uid?: number } = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `fn` with a copy of the CLI whose `version` has run once: that run's result and its cache file. */
function withVersionCache(fn: (copy: ReturnType<typeof copyOfCli>, expected: ReturnType<typeof cli>, file: string) => void): void {
  const copy = copyOfCli();
  try {
    const expected = cli(copy.bin, ['version']);
    assert.equal(expected.status, 0, expected.stderr);
    fn(copy, expected, path.join(copy.cacheDir, 'version.bin'));
  } finally {
    copy.cleanup();
  }
}

/** A cache file: its header line names the bundle and the CRC-32 of the bytecode after it. */
function readCacheFile(file: string): { header: string; bytecode: Buffer; intact: boolean } {
  const data = fs.readFileSync(file);
  const end = data.indexOf(10);
  assert.ok(end > 0, `${file} has no header line`);
  const header = data.toString('latin1', 0, end);
  const bytecode = data.subarray(end + 1);
  return { header, bytecode, intact: header.endsWith(`:${crc32(bytecode).toString(16)}`) };
}

test('the first run of a command writes its cache, the second uses it, and prints the same', { skip }, () => {
  const copy = copyOfCli();
  try {
    const root = path.join(copy.dir, 'root');
    const commands: Array<[string[], string]> = [
      [['version'], 'version.bin'],
      [['--root', root, 'image', 'ls'], 'image-ls.bin'],
      [['--root', root, 'images', '--format', 'json'], 'images.bin'],
    ];
    for (const [args, name] of commands) {
      const first = cli(copy.bin, args);
      assert.equal(first.status, 0, first.stderr);
      const file = path.join(copy.cacheDir, name);
      assert.ok(fs.existsSync(file), `${args.join(' ')} wrote no ${name}`);
      const written = fs.statSync(file);
      assert.ok(readCacheFile(file).intact);

      const second = cli(copy.bin, args);
      assert.equal(second.status, 0, second.stderr);
      assert.deepEqual(second, first, `${args.join(' ')}: output with the cache differs from without`);
      // A cache V8 rejected would have been replaced (a new file, renamed over the old one).
      const after = fs.statSync(file);
      assert.equal(after.ino, written.ino, `${name} was rewritten: V8 rejected the cache`);
      assert.equal(after.mtimeMs, written.mtimeMs);
    }
    // Only those: no temp files left behind.
    assert.deepEqual(fs.readdirSync(copy.cacheDir).sort(), ['image-ls.bin', 'images.bin', 'version.bin']);

    // A command that fails (a typo) writes none.
    assert.equal(cli(copy.bin, ['verison']).status, 125);
    assert.equal(fs.existsSync(path.join(copy.cacheDir, 'verison.bin')), false);
  } finally {
    copy.cleanup();
  }
});

test('a command that reaches a registry (undici, loaded on the first request) runs from the cache', { skip: skip || (process.getuid?.() !== 0 ? 'needs root (the test registry)' : false) }, async () => {
  const image = (await sharedImages()).busybox;
  const copy = copyOfCli();
  try {
    const pull = (n: number) => {
      const args = ['--root', path.join(copy.dir, `root${n}`), '--run-root', path.join(copy.dir, `run${n}`), 'pull', '-q', image.ref];
      // Asynchronously: with no DCTR_TEST_REGISTRY the registry runs in this process.
      return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [copy.bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('error', reject);
        child.once('close', (status) => resolve({ status, stdout, stderr }));
      });
    };
    const first = await pull(1);
    assert.equal(first.status, 0, first.stderr);
    const file = path.join(copy.cacheDir, 'pull.bin');
    const written = fs.statSync(file).ino;
    const second = await pull(2);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.equal(second.stdout.trim(), image.ref);
    assert.equal(second.stderr, '');
    assert.equal(fs.statSync(file).ino, written, 'pull.bin was rewritten: V8 rejected the cache');
  } finally {
    copy.cleanup();
  }
});

test('a damaged or truncated cache is ignored and replaced, the command unaffected', { skip }, () => {
  withVersionCache((copy, expected, file) => {
    const good = fs.readFileSync(file);
    const headerEnd = good.indexOf(10) + 1;

    const damage: Record<string, (data: Buffer) => Buffer> = {
      // V8 itself does not notice these: a flipped byte in the bytecode can crash the process.
      'a flipped byte in the bytecode': (data) => {
        const copyOf = Buffer.from(data);
        copyOf[headerEnd + Math.floor((data.length - headerEnd) / 2)]! ^= 0xff;
        return copyOf;
      },
      'a truncated file': (data) => data.subarray(0, Math.floor(data.length / 3)),
      'a header only': (data) => data.subarray(0, headerEnd),
      'garbage': () => Buffer.from('not a code cache\n\0\0\0\0'),
      'an empty file': () => Buffer.alloc(0),
      'another bundle\'s header': (data) => Buffer.concat([Buffer.from(`1:2:3:${process.version}:0\n`), data.subarray(headerEnd)]),
    };
    for (const [what, damageOf] of Object.entries(damage)) {
      const damaged = damageOf(good);
      fs.writeFileSync(file, damaged);
      const result = cli(copy.bin, ['version']);
      assert.deepEqual(result, expected, `with ${what}`);
      const replaced = readCacheFile(file);
      assert.ok(replaced.intact, `with ${what}: the cache was not replaced by an intact one`);
      assert.notDeepEqual(fs.readFileSync(file), damaged);
    }
  });
});

test('a cache file others can write, or a symlink in its place, is not run: it is replaced', { skip }, () => {
  withVersionCache((copy, expected, file) => {
    const inode = () => fs.lstatSync(file).ino;
    // An intact cache, but writable by the group: it could have been changed by someone else.
    fs.chmodSync(file, 0o664);
    const before = inode();
    assert.deepEqual(cli(copy.bin, ['version']), expected);
    assert.notEqual(inode(), before, 'a group-writable cache was used instead of replaced');
    assert.equal(fs.statSync(file).mode & 0o022, 0);
    // The same bytes behind a symlink.
    const elsewhere = path.join(copy.dir, 'elsewhere.bin');
    fs.renameSync(file, elsewhere);
    fs.symlinkSync(elsewhere, file);
    assert.deepEqual(cli(copy.bin, ['version']), expected);
    assert.equal(fs.lstatSync(file).isSymbolicLink(), false, 'the symlink was followed instead of replaced');
  });
});

test('a user who cannot write beside the bundle runs without a cache', { skip: skip || (process.getuid?.() !== 0 ? 'needs root (runs the CLI as nobody)' : false) }, () => {
  const copy = copyOfCli();
  try {
    const asRoot = cli(copy.bin, ['version']);
    fs.rmSync(copy.cacheDir, { recursive: true, force: true });
    const asNobody = cli(copy.bin, ['version'], { uid: 65534 });
    assert.equal(asNobody.status, 0, asNobody.stderr);
    assert.equal(asNobody.stdout, asRoot.stdout);
    assert.equal(asNobody.stderr, '');
    assert.equal(fs.existsSync(copy.cacheDir), false);
  } finally {
    copy.cleanup();
  }
});

test("the bundle carries better-sqlite3's JavaScript: of the package only its native addon is loaded from node_modules", { skip }, () => {
  const copy = copyOfCli();
  try {
    const bundle = fs.readFileSync(path.join(copy.dir, 'dist', 'bundle', 'cli', 'main.cjs'), 'utf8');
    assert.match(bundle, /node_modules\/better-sqlite3\/lib\/database\.js/);
    assert.doesNotMatch(bundle, /require\d*\("better-sqlite3"\)/);
    // A node_modules whose better-sqlite3 is its package.json and compiled
    // addon, nothing else (no lib/, no `bindings`): a command that creates,
    // migrates, writes and reads the database works from the bundle alone.
    const packageDir = path.join(TREE, 'node_modules', 'better-sqlite3');
    fs.rmSync(path.join(copy.dir, 'node_modules'));
    const stripped = path.join(copy.dir, 'node_modules', 'better-sqlite3');
    fs.mkdirSync(path.join(stripped, 'build', 'Release'), { recursive: true });
    fs.copyFileSync(path.join(packageDir, 'package.json'), path.join(stripped, 'package.json'));
    fs.symlinkSync(path.join(packageDir, 'build', 'Release', 'better_sqlite3.node'), path.join(stripped, 'build', 'Release', 'better_sqlite3.node'));
    const root = path.join(copy.dir, 'root');
    for (const args of [['volume', 'create', 'probe-volume'], ['volume', 'ls'], ['images', '--format', 'json']]) {
      const result = cli(copy.bin, ['--root', root, ...args]);
      assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
      if (args[1] === 'ls') assert.match(result.stdout, /probe-volume/);
    }
  } finally {
    copy.cleanup();
  }
});

test('without a bundle bin/ runs the compiled modules of dist/src', () => {
  const copy = copyOfCli({ bundle: false });
  try {
    const result = cli(copy.bin, ['version', '--format', 'json']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).Version, JSON.parse(fs.readFileSync(path.join(TREE, 'package.json'), 'utf8')).version);
    assert.equal(fs.existsSync(copy.cacheDir), false);
  } finally {
    copy.cleanup();
  }
});
