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
// Packages with native addons, and undici (loaded on a registry's first
// request), stay outside the bundle and are require()d from node_modules.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

// A code cache made for an older bundle would be rejected anyway; drop it.
rmSync('dist/bundle/cli', { recursive: true, force: true });

// commander requires child_process when it loads, for the executable
// subcommands we do not use; with it come net, dgram and the stream modules,
// 5 ms of every start. It gets an object that loads child_process on first use.
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(build) {
    build.onResolve({ filter: /^node:child_process$/ }, (args) =>
      args.importer.includes('/node_modules/commander/') ? { path: 'child_process', namespace: 'lazy-builtin' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `module.exports = new Proxy({}, { get: (_, key) => require('node:${args.path}')[key] });`,
      loader: 'js',
    }));
  },
};

const result = await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/bundle/cli/main.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'zstd-napi', 'undici', 'tar-stream'],
  define: { 'import.meta.url': '__dcImportMetaUrl' },
  banner: { js: "var __dcImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyChildProcessForCommander],
  logLevel: 'warning',
  write: false,
});

// Each module's `import fs from 'node:fs'` becomes `__toESM(require('node:fs'))`,
// which copies every export of the builtin into a new object: some ninety
// copies (fs and path forty times each), 5 to 10 ms of `run`. The copies are
// all alike, so each builtin gets one, shared.
const SHARED_TO_ESM = `
var __dcBuiltinsESM = new Map();
function __dcToESM(mod) {
  let wrapped = __dcBuiltinsESM.get(mod);
  if (wrapped === undefined) __dcBuiltinsESM.set(mod, (wrapped = __toESM(mod, 1)));
  return wrapped;
}`;
const [output] = result.outputFiles;
let text = output.text.replace(/__toESM\(require\("(node:[a-z_/]+)"\), 1\)/g, '__dcToESM(require("$1"))');
// After esbuild's helpers (the first statement that uses them is in a module's body).
text = text.replace(/\nvar __toCommonJS = [^\n]*\n/, (helper) => `${helper}${SHARED_TO_ESM}\n`);
if (!text.includes('function __dcToESM')) throw new Error('bundle: esbuild helpers not found where expected');
// esbuild escapes non-ASCII characters in strings but not in regular
// expressions (`µs` in a duration's pattern). One such character makes V8
// hold the whole 700 KB source as two-byte characters, slower to read and to
// scan; \uXXXX means the same in a string, a pattern or a comment.
text = text.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
mkdirSync('dist/bundle/cli', { recursive: true });
writeFileSync(output.path, text);
