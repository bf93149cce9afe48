/**
 * The containers table (see schema.ts). A row holds the container's immutable
 * intent (`config`, JSON) apart from its mutable state (state, pid, exit code,
 * OOM flag, error, times). Every state change is one BEGIN IMMEDIATE
 * transaction that reads the current state first and refuses a transition the
 * lifecycle does not allow, so two CLI processes racing on one container see
 * one winner and one CONFLICT.
 *
 *   created ──> running ──> exited ──> removing ──> (row gone)
 *      │           │  ^         ^
 *      │           v  │         │
 *      │         paused ────────┘
 *      └──────────────────────> exited   (failed before its process ran)
 *   any state ──> dead (cleanup failed; only removal leaves it)
 */
import { EngineError } from '../common/index.js';
import type { Database } from './open.js';

export const CONTAINER_STATES = ['created', 'running', 'paused', 'stopped', 'exited', 'removing', 'dead'] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

/** Which states each state may move to. */
export const TRANSITIONS: Readonly<Record<ContainerState, readonly ContainerState[]>> = {
  created: ['running', 'exited', 'removing', 'dead'],
  running: ['paused', 'exited', 'stopped', 'dead'],
  paused: ['running', 'exited', 'dead'],
  stopped: ['running', 'exited', 'removing', 'dead'],
  exited: ['running', 'removing', 'dead'],
  removing: ['dead'],
  dead: ['removing'],
};

export interface ContainerRecord {
  id: string;
  name: string;
  imageId: string | null;
  imageRef: string;
  /** The immutable intent, JSON text. */
  config: string;
  state: ContainerState;
  pid: number | null;
  exitCode: number | null;
  oomKilled: boolean;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface NewContainer {
  id: string;
  name: string;
  imageId: string | null;
  imageRef: string;
  config: string;
  /** Default now. */
  createdAt?: string;
}

/** A state change and the fields that change with it; absent fields keep their value. */
export interface StateChange {
  to: ContainerState;
  /** The states the caller expects the container to be in; default every state allowed to move to `to`. */
  from?: readonly ContainerState[];
  pid?: number | null;
  exitCode?: number | null;
  oomKilled?: boolean;
  error?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
}

interface RawContainer {
  id: string;
  name: string;
  image_id: string | null;
  image_ref: string;
  config: string;
  state: ContainerState;
  pid: number | null;
  exit_code: number | null;
  oom_killed: number;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

function toRecord(row: RawContainer): ContainerRecord {
  return {
    id: row.id,
    name: row.name,
    imageId: row.image_id,
    imageRef: row.image_ref,
    config: row.config,
    state: row.state,
    pid: row.pid,
    exitCode: row.exit_code,
    oomKilled: row.oom_killed !== 0,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** Docker's words for a taken name. */
export function nameConflict(name: string, holder: string): EngineError {
  return new EngineError(
    'CONFLICT',
    `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
    { hint: `remove it with: rm ${name}` },
  );
}

/** Inserts a new container in state 'created'. A taken name or id is a CONFLICT. */
export function createContainer(db: Database, container: NewContainer): ContainerRecord {
  return db
    .transaction(() => {
      const holder = db.prepare('SELECT id FROM containers WHERE name = ?').pluck().get(container.name) as string | undefined;
      if (holder !== undefined) throw nameConflict(container.name, holder);
      if (db.prepare('SELECT 1 FROM containers WHERE id = ?').get(container.id) !== undefined) {
        throw new EngineError('CONFLICT', `create container ${container.id}: the id is already in use`);
      }
      db.prepare(
        `INSERT INTO containers(id, name, image_id, image_ref, config, state, created_at)
         VALUES (?, ?, ?, ?, ?, 'created', ?)`,
      ).run(container.id, container.name, container.imageId, container.imageRef, container.config, container.createdAt ?? new Date().toISOString());
      return toRecord(db.prepare('SELECT * FROM containers WHERE id = ?').get(container.id) as RawContainer);
    })
    .immediate();
}

export function getContainer(db: Database, id: string): ContainerRecord | undefined {
  const row = db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as RawContainer | undefined;
  return row === undefined ? undefined : toRecord(row);
}

export function getContainerByName(db: Database, name: string): ContainerRecord | undefined {
  const row = db.prepare('SELECT * FROM containers WHERE name = ?').get(name) as RawContainer | undefined;
  return row === undefined ? undefined : toRecord(row);
}

/** Every container, newest first. */
export function listContainers(db: Database): ContainerRecord[] {
  return (db.prepare('SELECT * FROM containers ORDER BY created_at DESC, id').all() as RawContainer[]).map(toRecord);
}

/**
 * Moves a container to another state in one immediate transaction, after
 * checking that it exists (NOT_FOUND) and is in a state it may leave for
 * `to` (CONFLICT otherwise). Returns the updated row.
 */
export function setState(db: Database, id: string, change: StateChange): ContainerRecord {
  return db
    .transaction(() => {
      const row = db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as RawContainer | undefined;
      if (row === undefined) throw new EngineError('NOT_FOUND', `no such container: ${id}`);
      const allowed = change.from ?? CONTAINER_STATES.filter((state) => TRANSITIONS[state].includes(change.to));
      if (!allowed.includes(row.state) || !TRANSITIONS[row.state].includes(change.to)) {
        throw new EngineError('CONFLICT', `container ${id.slice(0, 12)}: cannot move from ${row.state} to ${change.to}`);
      }
      const sets: string[] = ['state = ?'];
      const values: unknown[] = [change.to];
      const field = (column: string, value: unknown) => {
        sets.push(`${column} = ?`);
        values.push(value);
      };
      if (change.pid !== undefined) field('pid', change.pid);
      if (change.exitCode !== undefined) field('exit_code', change.exitCode);
      if (change.oomKilled !== undefined) field('oom_killed', change.oomKilled ? 1 : 0);
      if (change.error !== undefined) field('error', change.error);
      if (change.startedAt !== undefined) field('started_at', change.startedAt);
      if (change.finishedAt !== undefined) field('finished_at', change.finishedAt);
      db.prepare(`UPDATE containers SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
      return toRecord(db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as RawContainer);
    })
    .immediate();
}

/**
 * Deletes a container's row if it is in one of `from` (default: not running
 * or paused). Returns false when there was no such row; CONFLICT when the
 * state forbids it.
 */
export function deleteContainer(db: Database, id: string, from: readonly ContainerState[] = ['created', 'exited', 'stopped', 'removing', 'dead']): boolean {
  return db
    .transaction(() => {
      const state = db.prepare('SELECT state FROM containers WHERE id = ?').pluck().get(id) as ContainerState | undefined;
      if (state === undefined) return false;
      if (!from.includes(state)) {
        throw new EngineError('CONFLICT', `remove container ${id.slice(0, 12)}: it is ${state}`, {
          hint: 'stop it first, or force the removal',
        });
      }
      db.prepare('DELETE FROM containers WHERE id = ?').run(id);
      return true;
    })
    .immediate();
}

/**
 * The container a user's word names, Docker's order: a full id, then an
 * exact name, then a unique id prefix. Undefined when nothing matches;
 * INVALID_ARGUMENT when a prefix fits more than one container.
 */
export function findContainer(db: Database, text: string): ContainerRecord | undefined {
  const word = text.startsWith('/') ? text.slice(1) : text;
  if (word === '') return undefined;
  const exact = getContainer(db, word) ?? getContainerByName(db, word);
  if (exact !== undefined) return exact;
  if (!/^[0-9a-f]{1,63}$/.test(word)) return undefined;
  const rows = db.prepare("SELECT * FROM containers WHERE substr(id, 1, ?) = ? LIMIT 2").all(word.length, word) as RawContainer[];
  if (rows.length > 1) {
    throw new EngineError('INVALID_ARGUMENT', `multiple containers found with provided prefix: ${word}`, { hint: 'give more characters of the id, or the name' });
  }
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

/** Gives a container another name in one transaction; a taken name is Docker's CONFLICT. */
export function renameContainer(db: Database, id: string, newName: string): ContainerRecord {
  return db
    .transaction(() => {
      const row = db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as RawContainer | undefined;
      if (row === undefined) throw new EngineError('NOT_FOUND', `No such container: ${id}`);
      if (row.state === 'removing' || row.state === 'dead') {
        throw new EngineError('CONFLICT', `rename container ${id.slice(0, 12)}: it is ${row.state}`);
      }
      const holder = db.prepare('SELECT id FROM containers WHERE name = ?').pluck().get(newName) as string | undefined;
      if (holder !== undefined && holder !== id) throw nameConflict(newName, holder);
      db.prepare('UPDATE containers SET name = ? WHERE id = ?').run(newName, id);
      return toRecord(db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as RawContainer);
    })
    .immediate();
}
