/**
 * A private pair of engine roots for one test, under os.tmpdir(). dispose()
 * detaches whatever is still mounted below it (deepest first, lazily) and then
 * removes the whole tree, so a test that fails half-way leaves nothing behind.
 * The bridges of the root's networks (the default one stays, like docker0,
 * while its root lives) are host devices: they go too, with the NAT and
 * FORWARD rules the engine made for them (found by their comment).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempRoot {
  /** The temp directory holding everything below. */
  dir: string;
  /** Use as the engine's --root. */
  root: string;
  /** Use as the engine's --run-root. */
  runRoot: string;
  /** Unmounts anything left below `dir` and removes it; safe to call twice. */
  dispose(): void;
}

export function createTempRoot(prefix = 'dctr-test-'): TempRoot {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const root = join(dir, 'root');
  const runRoot = join(dir, 'run');
  mkdirSync(root);
  mkdirSync(runRoot);
  let disposed = false;
  return {
    dir,
    root,
    runRoot,
    dispose() {
      if (disposed) return;
      disposed = true;
      unmountBelow(dir);
      removeBridgesOf(root);
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/** Mount points at or below `dir` in this process's mount namespace, deepest first. */
export function mountsBelow(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const line of text.split('\n')) {
    // Field 5 (index 4) is the mount point, with space, tab, newline and backslash octal-escaped.
    const field = line.split(' ')[4];
    if (!field) continue;
    const mountPoint = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (mountPoint === dir || mountPoint.startsWith(dir + '/')) found.push(mountPoint);
  }
  // Later lines are mounted on top of earlier ones; longer paths are deeper.
  return found.reverse().sort((a, b) => b.length - a.length);
}

/** Lazily detaches every mount at or below `dir`; returns the mount points it tried. */
export function unmountBelow(dir: string): string[] {
  const mounts = mountsBelow(dir);
  for (const mountPoint of mounts) {
    spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
  }
  return mounts;
}

/** Deletes the bridge devices a root's networks made (read from its database); returns their names. */
export function removeBridgesOf(root: string): string[] {
  const file = join(root, 'db.sqlite');
  if (!existsSync(file)) return [];
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
  let bridges: string[];
  const db = new Sqlite(file, { readonly: true, fileMustExist: true });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'networks'").get();
    bridges = table === undefined ? [] : (db.prepare('SELECT bridge FROM networks').pluck().all() as string[]);
  } finally {
    db.close();
  }
  bridges = bridges.filter((bridge) => bridge !== '');
  // Rules first, while each bridge still holds its name (no other root can take it and add rules of the same comment).
  removeBridgeRules(bridges);
  const removed = bridges.filter((bridge) => existsSync(`/sys/class/net/${bridge}`));
  for (const bridge of removed) spawnSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
  return removed;
}

/**
 * Deletes the iptables rules the engine made for these bridges: each carries
 * the comment "didactic-container BRIDGE" (src/network/nat.ts). One
 * iptables-restore per table; returns the rules deleted, as iptables-save printed them.
 */
export function removeBridgeRules(bridges: readonly string[]): string[] {
  if (bridges.length === 0) return [];
  const saved = spawnSync('iptables-save', [], { encoding: 'utf8' });
  if (saved.status !== 0 || typeof saved.stdout !== 'string') return [];
  const comments = new Set(bridges.map((bridge) => `--comment "didactic-container ${bridge}"`));
  const byTable = new Map<string, string[]>();
  const deleted: string[] = [];
  let table = '';
  for (const line of saved.stdout.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    if (!line.startsWith('-A ') || ![...comments].some((comment) => line.includes(comment))) continue;
    byTable.set(table, [...(byTable.get(table) ?? []), `-D ${line.slice(3)}`]);
    deleted.push(line);
  }
  for (const [name, lines] of byTable) {
    spawnSync('iptables-restore', ['--noflush', '-w'], { input: `*${name}\n${lines.join('\n')}\nCOMMIT\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  }
  return deleted;
}
