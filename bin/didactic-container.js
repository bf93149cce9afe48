#!/usr/bin/env node
// The CLI's entry point (CommonJS: bin/package.json; an ES module entry makes
// Node start its ES module loader first, about 10 ms of every command).
//
// It runs the bundle (dist/bundle/cli/main.cjs, made by `npm run build`) with
// a V8 code cache: the bundle is compiled as a vm.Script, given the bytecode a
// previous run of the same command left in dist/bundle/cli/cache/, so V8
// neither parses its 700 KB nor compiles the functions that command runs.
// When there was no cache, or V8 rejected it (another bundle, Node or V8
// flags), the run that just ended writes a new one: made after the command,
// it holds every function the command compiled, hence one cache per command.
// A user who cannot write beside the bundle (a non-root user of a root
// install) just runs without one.
//
// Without a bundle it loads the compiled ES modules of dist/src: the same
// code, slower to load.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const BUNDLE = path.join(__dirname, '..', 'dist', 'bundle', 'cli', 'main.cjs');
const CACHE_DIR = path.join(path.dirname(BUNDLE), 'cache');
/** The engine's addon once checksum() loaded it (null: not there); declared before the code below runs. */
let addon;

let bundle;
try {
  // The source and its identity from one open file, whatever a rebuild does meanwhile.
  const fd = fs.openSync(BUNDLE, 'r');
  try {
    // latin1: the bundle is ASCII only (scripts/bundle.mjs escapes the rest), and
    // decoding it as such skips UTF-8 validation, half the time of the read.
    bundle = { stat: fs.fstatSync(fd), source: fs.readFileSync(fd, 'latin1') };
  } finally {
    fs.closeSync(fd);
  }
} catch {
  const { pathToFileURL } = require('node:url');
  import(pathToFileURL(path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js')).href).then((cli) => cli.main(process.argv));
}
if (bundle !== undefined) runBundle(bundle.source, bundle.stat);

function runBundle(source, stat) {
  const vm = require('node:vm');
  const { createRequire } = require('node:module');
  const key = cacheKey(process.argv.slice(2));
  const cacheFile = key === undefined ? undefined : path.join(CACHE_DIR, `${key}.bin`);
  // V8 checks a cache against the source's length only, not its content, and
  // does not checksum the bytecode (a flipped byte can crash the process):
  // the bundle's identity (size, mtime, inode) and the Node version head the
  // file, then the CRC-32 of the bytecode, so that neither a rebuilt bundle of
  // the same length nor a damaged file gets run.
  const stamp = `${stat.size}:${stat.mtimeMs}:${stat.ino}:${process.version}:`;
  const cachedData = cacheFile === undefined ? undefined : readCache(cacheFile, stamp);

  // The CommonJS function wrapper, on the bundle's first line so that stack
  // traces keep its line numbers.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    cachedData,
  });
  if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected)) {
    process.once('exit', (code) => {
      // Only after a command that worked: a failed one (a typo, a bad flag)
      // compiled little of it, and would leave a file per misspelled command.
      if (code === 0) writeCache(script, cacheFile, stamp);
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, path.dirname(BUNDLE));
  module.exports.main(process.argv);
}

/**
 * The command's name (`run`, `image-ls`), found as commander will: the first
 * word that is neither an option nor the value of a global option, and the
 * verb after a noun. Undefined when it does not look like a command's name.
 */
function cacheKey(args) {
  const words = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const arg = args[i];
    if (arg === '--root' || arg === '--run-root' || arg === '--log-level') i++;
    else if (!arg.startsWith('-')) {
      words.push(arg);
      if (!['image', 'container', 'network', 'volume'].includes(arg)) break;
    }
  }
  const key = words.length === 0 ? 'main' : words.join('-');
  return /^[a-z][a-z-]{0,40}$/.test(key) ? key : undefined;
}

/**
 * CRC-32 of the bytecode, by the engine's own addon (build/Release), which
 * nearly every engine command loads anyway: node:zlib's crc32 would cost the
 * load of zlib and stream, 3-5 ms of every start. Without the addon (not
 * built) there is no cache.
 */
function checksum(data) {
  if (addon === undefined) {
    addon = null;
    try {
      const module = { exports: {} };
      process.dlopen(module, path.join(__dirname, '..', 'build', 'Release', 'didactic_native.node'));
      if (typeof module.exports.crc32 === 'function') addon = module.exports;
    } catch {
      // no addon: run without a cache
    }
  }
  return addon === null ? undefined : addon.crc32(data).toString(16);
}

/** The cache's bytecode when it was made for this bundle and is intact; anything else is no cache. */
function readCache(file, stamp) {
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    // Bytecode runs as this user (root, for the engine): only a file this user
    // wrote and nobody else can change is trusted.
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== process.geteuid() || (st.mode & 0o022) !== 0) return undefined;
    const data = fs.readFileSync(fd);
    const end = data.indexOf(10);
    if (end < 0 || data.toString('latin1', 0, stamp.length) !== stamp) return undefined;
    const bytecode = data.subarray(end + 1);
    const sum = checksum(bytecode);
    return sum !== undefined && data.toString('latin1', stamp.length, end) === sum ? bytecode : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Best effort, atomically (temp file + rename): two CLIs at once each write a whole file. */
function writeCache(script, file, stamp) {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    // Cheap refusal first: making the cache costs a few ms a non-root user should not pay.
    fs.accessSync(path.dirname(CACHE_DIR), fs.constants.W_OK);
    fs.mkdirSync(CACHE_DIR, { recursive: true, mode: 0o755 });
    const bytecode = script.createCachedData();
    const sum = checksum(bytecode);
    if (sum === undefined) return;
    fs.writeFileSync(temp, Buffer.concat([Buffer.from(`${stamp}${sum}\n`, 'latin1'), bytecode]), { mode: 0o644 });
    fs.renameSync(temp, file);
  } catch {
    try {
      fs.unlinkSync(temp);
    } catch {
      // Nothing was written.
    }
  }
}
