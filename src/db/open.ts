/**
 * Opening the metadata database: pragmas for many concurrent CLI processes
 * (WAL, a busy timeout, foreign keys) and the ordered migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
// A static import, so that the CLI bundle (scripts/bundle.mjs) carries the
// package's JavaScript and compiles it under the CLI's code cache; required
// from node_modules it was some fourteen files resolved, read and compiled on
// every command that opens the database. Only its native addon is loaded from
// node_modules (sqliteAddon below).
import Sqlite from 'better-sqlite3';
import { EngineError } from '../common/index.js';
import { MIGRATIONS, type Migration } from './schema.js';

export type Database = Sqlite.Database;

export interface OpenOptions {
  /** Open without creating or migrating (for read-only commands on a fresh root). */
  readonly?: boolean;
  /** Milliseconds a writer waits for another writer's lock before failing. */
  busyTimeoutMs?: number;
}

const require = createRequire(import.meta.url);

let addon: object | undefined;

/**
 * better-sqlite3's compiled addon, named directly: left to itself the package
 * finds it through `bindings`, which tries a dozen paths and reads a stack
 * trace (some milliseconds of every command), and which, run from the CLI
 * bundle, would take the bundle's file for the package's and look in the
 * wrong place. The usual Release build is taken when it is where npm puts it
 * and no build `bindings` would prefer to it exists (build/better_sqlite3.node,
 * build/Debug); otherwise `bindings` is asked, told where the package is.
 *
 * The package is looked for first in this package's own node_modules, where
 * Node's resolution would find it too (this file, like the CLI bundle, is
 * three directories below the package's root, and dist/ has no node_modules):
 * resolving it reads package.json files and stats a dozen paths, about a
 * millisecond of every command. Resolution is the fallback, for a copy
 * installed elsewhere (hoisted into a parent's node_modules).
 *
 * The addon is loaded here, by process.dlopen as require() would, and handed
 * to the package loaded: require() would first resolve its path again (a
 * realpath and the package.json of its scope).
 */
function sqliteAddon(): object {
  if (addon === undefined) {
    const own = fileURLToPath(new URL('../../../node_modules/better-sqlite3', import.meta.url));
    const dir = fs.existsSync(path.join(own, 'package.json')) ? own : path.dirname(require.resolve('better-sqlite3/package.json'));
    const release = path.join(dir, 'build', 'Release', 'better_sqlite3.node');
    const preferred = [path.join(dir, 'build', 'better_sqlite3.node'), path.join(dir, 'build', 'Debug')];
    let file = release;
    if (!fs.existsSync(release) || preferred.some((other) => fs.existsSync(other))) {
      const bindings = createRequire(path.join(dir, 'package.json'))('bindings') as (options: object) => string;
      file = bindings({ bindings: 'better_sqlite3.node', module_root: dir, path: true });
    }
    const module = { exports: {} };
    process.dlopen(module, file);
    addon = module.exports;
  }
  return addon;
}

/**
 * Opens (creating and migrating when needed) the database at `file`.
 *
 * Every command opens it, so only what a connection does not keep from the
 * file is set here: the busy timeout (by better-sqlite3's constructor, not a
 * pragma of its own), foreign keys and synchronous=NORMAL. WAL mode is
 * recorded in the file itself: it is set when the database is created (or
 * still has migrations to run), not by every open; a database someone switched
 * back to a rollback journal still works, with SQLite's own locking.
 *
 * The connection is closed when the command ends (by the engine, or by
 * better-sqlite3's own clean-up as Node exits), and the last one to close
 * checkpoints the WAL into the database and removes it: two or three fsyncs
 * and two unlinks, about a millisecond, that the next command's first write
 * undoes. Kept so on purpose: with synchronous=NORMAL a commit reaches the
 * disk only at a checkpoint, so that close is what makes a command's records
 * survive a power cut (a WAL left behind would hold the last commands' records
 * unsynced until some later checkpoint, 1000 pages away); and keeping the WAL
 * would need the process to exit without Node's clean-up (better-sqlite3
 * offers neither SQLITE_FCNTL_PERSIST_WAL nor SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE).
 */
export function openDatabase(file: string, options: OpenOptions = {}): Database {
  if (!options.readonly) fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let db: Database;
  try {
    db = new Sqlite(file, {
      readonly: options.readonly === true,
      fileMustExist: options.readonly === true,
      timeout: options.busyTimeoutMs ?? 10_000,
      // Its types name only a path; the package takes the loaded addon too.
      nativeBinding: sqliteAddon() as unknown as string,
    });
  } catch (error) {
    throw new EngineError('UNAVAILABLE', `open database ${file}: ${(error as Error).message}`, { cause: error });
  }
  db.pragma('foreign_keys = ON');
  if (!options.readonly) {
    db.pragma('synchronous = NORMAL');
    if (schemaVersion(db) !== latestVersion(MIGRATIONS)) {
      enableWal(db, options.busyTimeoutMs ?? 10_000);
      migrate(db, MIGRATIONS);
    }
  }
  return db;
}

/**
 * PRAGMA journal_mode=WAL needs the database to itself for a moment. When
 * many processes open a new database at once, one of them converting or
 * migrating it can make SQLite answer SQLITE_BUSY at once, without calling
 * the busy handler (seen in the 20-writer test under load): so try again,
 * with a growing pause, until the busy timeout.
 */
function enableWal(db: Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() + pause > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    }
  }
}

function latestVersion(migrations: readonly Migration[]): number {
  return migrations.at(-1)?.version ?? 0;
}

/** Runs every migration newer than the database's user_version, each in its own immediate transaction. */
export function migrate(db: Database, migrations: readonly Migration[]): number {
  const latest = latestVersion(migrations);
  // The common case, an up-to-date database, needs no write lock at all.
  if ((db.pragma('user_version', { simple: true }) as number) === latest) return 0;
  let applied = 0;
  for (const migration of migrations) {
    const run = db.transaction(() => {
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current >= migration.version) return false;
      if (current !== migration.version - 1) {
        throw new EngineError('FAILED_PRECONDITION', `migrate database: at version ${current}, cannot apply ${migration.version} (${migration.name})`);
      }
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
      return true;
    });
    if (run.immediate()) applied++;
  }
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > latest) {
    throw new EngineError('FAILED_PRECONDITION', `open database: schema version ${current} is newer than this engine knows (${latest})`, {
      hint: 'upgrade didactic-container',
    });
  }
  return applied;
}

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}
