// Bundles the CLI's compiled JavaScript (dist/src) into dist/bundle/cli: one
// file for what every command loads at start-up, and one chunk per lazily
// loaded command. Resolving and reading some hundred small ES modules was a
// fifth of a short command's CPU time; a bundle reads a handful.
//
// The bundle sits at the same depth as dist/src/<module>/, so the paths the
// code finds relative to its own file (build/Release for the native parts,
// package.json for the version) are the same in both.
// Packages with native addons, and undici (loaded on a registry's first
// request), stay outside the bundle and load from node_modules when needed.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outdir: 'dist/bundle/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'zstd-napi', 'undici', 'tar-stream'],
  // commander is CommonJS: give the bundle a real require for its node: imports.
  banner: { js: "import { createRequire as __dcCreateRequire } from 'node:module'; const require = __dcCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
