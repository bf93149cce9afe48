// Bundles the CLI's compiled JavaScript (dist/src) into one CommonJS file,
// dist/bundle/cli/main.cjs. Resolving and reading some hundred small ES
// modules was a fifth of a short command's CPU time; one file is read once.
//
// CommonJS rather than ESM because of the V8 code cache: Node 20's ES module
// loader cannot take one, while a CommonJS file can be compiled by bin/ as a
// vm.Script with the bytecode a previous run of the same command left in
// dist/bundle/cli/cache/ (see bin/didactic-container.js). The commands are
// still loaded lazily: esbuild turns each `import('./commands/x.js')` into a
// module initialised on first use, so a command's code runs only when it is
// invoked (and is compiled lazily by V8, or taken from the cache).
//
// The bundle sits at the same depth as dist/src/<module>/, so the paths the
// code finds relative to its own file (build/Release for the native parts,
// package.json for the version) are the same in both. `import.meta.url`,
// which CommonJS lacks, becomes the bundle's own file URL.
// better-sqlite3's JavaScript is bundled (required from node_modules it was
// some fourteen files resolved, read and compiled without a code cache, 10 ms
// of every command that opens the database); its native addon is still loaded
// from node_modules, by the path src/db/open.ts gives it, so the package's
// `bindings` lookup is never run and stays outside. zstd-napi (an addon
// loaded through its own loader), and undici and tar-stream (loaded by few
// commands, on first use) stay outside too and are require()d from node_modules.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

// A code cache made for an older bundle would be rejected anyway; drop it.
rmSync('dist/bundle/cli', { recursive: true, force: true });

const result = await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/bundle/cli/main.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['bindings', 'zstd-napi', 'undici', 'tar-stream'],
  define: { 'import.meta.url': '__dcImportMetaUrl' },
  banner: { js: "var __dcImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
  write: false,
});

// Each module's `import fs from 'node:fs'` becomes `__toESM(require('node:fs'))`,
// which copies every export of the builtin into a new object: some ninety
// copies (fs and path forty times each), 5 to 10 ms of `run`. The copies are
// all alike, so each builtin gets one, shared.
//
// And a module's imports are required when the module is initialised, used
// or not: commander's child_process (for executable subcommands, which we do
// not have) brings net, dgram and the stream modules into every start, the
// registry client's tls and the network code's dgram into every `run`. The
// builtins below, costly to load and used by few commands, are required on
// the first use of one of their exports instead: the module gets an object
// that loads the builtin when a property is read.
const LAZY_BUILTINS = ['child_process', 'crypto', 'dgram', 'fs/promises', 'net', 'stream', 'stream/promises', 'tls', 'zlib'];
const HELPERS = `
var __dcBuiltinsESM = new Map();
function __dcToESM(mod) {
  let wrapped = __dcBuiltinsESM.get(mod);
  if (wrapped === undefined) __dcBuiltinsESM.set(mod, (wrapped = __toESM(mod, 1)));
  return wrapped;
}
var __dcLazyBuiltins = new Map();
function __dcLazy(name, esm) {
  const key = esm ? name + " as ESM" : name;
  let lazy = __dcLazyBuiltins.get(key);
  if (lazy === undefined) {
    let loaded;
    const load = () => (loaded ??= esm ? __dcToESM(require(name)) : require(name));
    lazy = new Proxy({}, { get: (_, property) => load()[property], has: (_, property) => property in load() });
    __dcLazyBuiltins.set(key, lazy);
  }
  return lazy;
}`;
const [output] = result.outputFiles;
const lazy = new Set(LAZY_BUILTINS.map((name) => `node:${name}`));
let text = output.text
  .replace(/__toESM\(require\("(node:[a-z_/]+)"\), 1\)/g, (call, name) => (lazy.has(name) ? `__dcLazy("${name}", true)` : `__dcToESM(require("${name}"))`))
  .replace(/\brequire\("(node:[a-z_/]+)"\)/g, (call, name) => (lazy.has(name) ? `__dcLazy("${name}", false)` : call));
// A dynamic import() in a vm.Script needs a callback that Node 20 loses when
// the script comes from a code cache ("A dynamic import callback was not
// specified"); the external packages imported so (undici) are CommonJS, so
// require() gives the same exports.
text = text.replace(/\bimport\("([^"./][^"]*)"\)/g, (call, name) => `Promise.resolve().then(() => __toESM(require("${name}"), 1))`);
if (/\bimport\(/.test(text)) throw new Error('bundle: a dynamic import() is left, which a cached vm.Script cannot run');
// After esbuild's helpers (the first statement that uses them is in a module's body).
text = text.replace(/\nvar __toCommonJS = [^\n]*\n/, (helper) => `${helper}${HELPERS}\n`);
if (!text.includes('function __dcToESM')) throw new Error('bundle: esbuild helpers not found where expected');
// esbuild escapes non-ASCII characters in strings but not in regular
// expressions (`µs` in a duration's pattern). One such character makes V8
// hold the whole 700 KB source as two-byte characters, slower to read and to
// scan; \uXXXX means the same in a string, a pattern or a comment.
text = text.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
// Renamed into place: a CLI starting meanwhile reads a whole bundle or none.
mkdirSync('dist/bundle/cli', { recursive: true });
writeFileSync(`${output.path}.tmp`, text);
renameSync(`${output.path}.tmp`, output.path);
