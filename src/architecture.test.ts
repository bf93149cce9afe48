/**
 * The layering rules of CONVENTIONS.md, checked on the source: a module
 * imports another only through its index.ts, the CLI and API see only the
 * engine and common, only sys/ touches child_process and the native addon,
 * and modules do not import each other in a cycle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/src/architecture.test.js -> the repository's src/
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

interface Import {
  file: string;
  specifier: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT_RE)].map((match) => ({ file, specifier: (match[1] ?? match[2])! }));
}

function moduleOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!;
}

const files = sourceFiles(SRC);
const imports = files.flatMap(importsOf);

test('a module imports another only through its index', () => {
  const bad = imports.filter(({ file, specifier }) => {
    if (!specifier.startsWith('.')) return false;
    const target = path.resolve(path.dirname(file), specifier);
    if (moduleOf(target) === moduleOf(file)) return false;
    return path.relative(path.join(SRC, moduleOf(target)), target) !== 'index.js';
  });
  assert.deepEqual(bad.map(({ file, specifier }) => `${path.relative(SRC, file)} -> ${specifier}`), []);
});

test('the CLI and the API see only the engine and common', () => {
  const allowed = new Set(['engine', 'common']);
  const bad = imports.filter(({ file, specifier }) => {
    const from = moduleOf(file);
    if (from !== 'cli' && from !== 'api') return false;
    if (!specifier.startsWith('.')) return false;
    const to = moduleOf(path.resolve(path.dirname(file), specifier));
    return to !== from && !allowed.has(to);
  });
  assert.deepEqual(bad.map(({ file, specifier }) => `${path.relative(SRC, file)} -> ${specifier}`), []);
});

test('only sys/ imports child_process and the native addon', () => {
  const bad = imports.filter(
    ({ file, specifier }) => moduleOf(file) !== 'sys' && (/^(node:)?child_process$/.test(specifier) || specifier.endsWith('.node')),
  );
  assert.deepEqual(bad.map(({ file, specifier }) => `${path.relative(SRC, file)} -> ${specifier}`), []);
});

test('modules do not import each other in a cycle', () => {
  const edges = new Map<string, Set<string>>();
  for (const { file, specifier } of imports) {
    if (!specifier.startsWith('.')) continue;
    const from = moduleOf(file);
    const to = moduleOf(path.resolve(path.dirname(file), specifier));
    if (from === to || to.endsWith('.ts') || to.endsWith('.js')) continue;
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from)!.add(to);
  }
  const cycles: string[] = [];
  const visit = (node: string, trail: string[]) => {
    if (trail.includes(node)) {
      cycles.push([...trail.slice(trail.indexOf(node)), node].join(' -> '));
      return;
    }
    for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
  };
  for (const node of edges.keys()) visit(node, []);
  assert.deepEqual([...new Set(cycles)], []);
});
