/**
 * Opening the metadata database: pragmas for many concurrent CLI processes
 * (WAL, a busy timeout, foreign keys) and the ordered migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { EngineError } from '../common/index.js';
import { MIGRATIONS, type Migration } from './schema.js';

export type Database = BetterSqlite3.Database;

export interface OpenOptions {
  /** Open without creating or migrating (for read-only commands on a fresh root). */
  readonly?: boolean;
  /** Milliseconds a writer waits for another writer's lock before failing. */
  busyTimeoutMs?: number;
}

const require = createRequire(import.meta.url);

let addonPath: string | null | undefined;

/**
 * better-sqlite3's compiled addon, named directly: left to itself the package
 * finds it through `bindings`, which tries a dozen paths and reads a stack
 * trace (some milliseconds of every command). undefined when the usual
 * Release build is not where npm puts it, or a build `bindings` would prefer
 * to it exists (build/better_sqlite3.node, build/Debug): the package then looks for itself.
 */
function sqliteAddonPath(): string | undefined {
  if (addonPath === undefined) {
    addonPath = null;
    try {
      const dir = path.dirname(require.resolve('better-sqlite3/package.json'));
      const release = path.join(dir, 'build', 'Release', 'better_sqlite3.node');
      const preferred = [path.join(dir, 'build', 'better_sqlite3.node'), path.join(dir, 'build', 'Debug')];
      if (fs.existsSync(release) && !preferred.some((other) => fs.existsSync(other))) addonPath = release;
    } catch {
      addonPath = null;
    }
  }
  return addonPath ?? undefined;
}

/** Opens (creating and migrating when needed) the database at `file`. */
export function openDatabase(file: string, options: OpenOptions = {}): Database {
  const Sqlite = require('better-sqlite3') as typeof BetterSqlite3;
  if (!options.readonly) fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let db: Database;
  try {
    const nativeBinding = sqliteAddonPath();
    db = new Sqlite(file, { readonly: options.readonly === true, fileMustExist: options.readonly === true, ...(nativeBinding === undefined ? {} : { nativeBinding }) });
  } catch (error) {
    throw new EngineError('UNAVAILABLE', `open database ${file}: ${(error as Error).message}`, { cause: error });
  }
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
  db.pragma('foreign_keys = ON');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db, MIGRATIONS);
  }
  return db;
}

/** Runs every migration newer than the database's user_version, each in its own immediate transaction. */
export function migrate(db: Database, migrations: readonly Migration[]): number {
  const latest = migrations.at(-1)?.version ?? 0;
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
