/**
 * The volumes and container_mounts tables (see schema.ts). A volume row is
 * a local volume whose data lives in <root>/volumes/<name>/_data; a
 * container_mounts row is one mount of a container as run planned it. A
 * volume named by any mount row is in use (by a running or a stopped
 * container, as Docker counts it).
 */
import { EngineError } from '../common/index.js';
import type { Database } from './open.js';

export interface VolumeRow {
  name: string;
  driver: string;
  labels: Record<string, string>;
  /** Made for one container (-v PATH, image VOLUME): removed with it by rm -v and run --rm. */
  anonymous: boolean;
  createdAt: string;
}

export interface NewVolume {
  name: string;
  labels?: Record<string, string>;
  anonymous?: boolean;
  createdAt?: string;
}

export interface MountRow {
  containerId: string;
  position: number;
  type: 'bind' | 'volume' | 'tmpfs';
  /** null for binds and tmpfs, and for a volume removed by force since. */
  volumeName: string | null;
  source: string;
  destination: string;
  mode: string;
  rw: boolean;
  propagation: string;
  anonymous: boolean;
}

export type NewMount = Omit<MountRow, 'containerId' | 'position'>;

export interface VolumeUser {
  containerId: string;
  containerName: string;
  containerState: string;
}

interface RawVolume {
  name: string;
  driver: string;
  labels: string;
  anonymous: number;
  created_at: string;
}

interface RawMount {
  container_id: string;
  position: number;
  type: MountRow['type'];
  volume_name: string | null;
  source: string;
  destination: string;
  mode: string;
  rw: number;
  propagation: string;
  anonymous: number;
}

function toVolume(row: RawVolume): VolumeRow {
  return {
    name: row.name,
    driver: row.driver,
    labels: JSON.parse(row.labels) as Record<string, string>,
    anonymous: row.anonymous !== 0,
    createdAt: row.created_at,
  };
}

function toMount(row: RawMount): MountRow {
  return {
    containerId: row.container_id,
    position: row.position,
    type: row.type,
    volumeName: row.volume_name,
    source: row.source,
    destination: row.destination,
    mode: row.mode,
    rw: row.rw !== 0,
    propagation: row.propagation,
    anonymous: row.anonymous !== 0,
  };
}

export function getVolume(db: Database, name: string): VolumeRow | undefined {
  const row = db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as RawVolume | undefined;
  return row === undefined ? undefined : toVolume(row);
}

export function listVolumes(db: Database): VolumeRow[] {
  return (db.prepare('SELECT * FROM volumes ORDER BY name').all() as RawVolume[]).map(toVolume);
}

function insert(db: Database, volume: NewVolume): void {
  db.prepare('INSERT INTO volumes(name, driver, labels, anonymous, created_at) VALUES (?, ?, ?, ?, ?)').run(
    volume.name,
    'local',
    JSON.stringify(volume.labels ?? {}),
    volume.anonymous === true ? 1 : 0,
    volume.createdAt ?? new Date().toISOString(),
  );
}

/** Inserts a volume; ALREADY_EXISTS when the name is taken. */
export function createVolume(db: Database, volume: NewVolume): VolumeRow {
  return db
    .transaction(() => {
      if (getVolume(db, volume.name) !== undefined) throw new EngineError('ALREADY_EXISTS', `create volume ${volume.name}: a volume with that name already exists`);
      insert(db, volume);
      return getVolume(db, volume.name)!;
    })
    .immediate();
}

/** The volume of that name, made when missing (run -v NAME:/path); `created` says which. */
export function ensureVolume(db: Database, volume: NewVolume): { volume: VolumeRow; created: boolean } {
  return db
    .transaction(() => {
      const found = getVolume(db, volume.name);
      if (found !== undefined) return { volume: found, created: false };
      insert(db, volume);
      return { volume: getVolume(db, volume.name)!, created: true };
    })
    .immediate();
}

/** The containers whose mounts name the volume. */
export function volumeUsers(db: Database, name: string): VolumeUser[] {
  return db
    .prepare(
      `SELECT DISTINCT m.container_id AS containerId, c.name AS containerName, c.state AS containerState
       FROM container_mounts m JOIN containers c ON c.id = m.container_id
       WHERE m.volume_name = ? ORDER BY c.name`,
    )
    .all(name) as VolumeUser[];
}

/**
 * Deletes a volume's row. In use: CONFLICT, unless `force`, which leaves the
 * users' mount rows without a volume (their source path stays recorded).
 * False when there was no such volume.
 */
export function deleteVolume(db: Database, name: string, options: { force?: boolean } = {}): boolean {
  return db
    .transaction(() => {
      if (getVolume(db, name) === undefined) return false;
      const users = volumeUsers(db, name);
      // Even forced, a volume stays while a live container has it mounted: its data would vanish under it.
      const live = users.filter((user) => user.containerState === 'running' || user.containerState === 'paused');
      if (live.length > 0) {
        throw new EngineError('CONFLICT', `remove volume ${name}: volume is in use by running container(s): ${live.map((u) => `${u.containerName} (${u.containerId.slice(0, 12)})`).join(', ')}`, {
          hint: 'stop those containers first',
        });
      }
      if (users.length > 0 && options.force !== true) {
        throw new EngineError('CONFLICT', `remove volume ${name}: volume is in use by ${users.length} container(s): ${users.map((u) => `${u.containerName} (${u.containerId.slice(0, 12)})`).join(', ')}`, {
          hint: 'remove those containers first, or force with -f',
        });
      }
      db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
      return true;
    })
    .immediate();
}

/** Volumes no container names, anonymous ones only unless `all`. */
export function unusedVolumes(db: Database, options: { all?: boolean } = {}): VolumeRow[] {
  const rows = db
    .prepare(
      `SELECT v.* FROM volumes v
       WHERE NOT EXISTS (SELECT 1 FROM container_mounts m WHERE m.volume_name = v.name)
       ${options.all === true ? '' : 'AND v.anonymous = 1'}
       ORDER BY v.name`,
    )
    .all() as RawVolume[];
  return rows.map(toVolume);
}

/** Records a container's mounts, replacing any recorded before, in one transaction. */
export function recordMounts(db: Database, containerId: string, mounts: readonly NewMount[]): void {
  db.transaction(() => {
    db.prepare('DELETE FROM container_mounts WHERE container_id = ?').run(containerId);
    const insertMount = db.prepare(
      `INSERT INTO container_mounts(container_id, position, type, volume_name, source, destination, mode, rw, propagation, anonymous)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    mounts.forEach((m, position) => {
      insertMount.run(containerId, position, m.type, m.volumeName, m.source, m.destination, m.mode, m.rw ? 1 : 0, m.propagation, m.anonymous ? 1 : 0);
    });
  }).immediate();
}

export function listMounts(db: Database, containerId: string): MountRow[] {
  return (db.prepare('SELECT * FROM container_mounts WHERE container_id = ? ORDER BY position').all(containerId) as RawMount[]).map(toMount);
}

/** Forgets a container's mounts (its volumes are then no longer in use by it). */
export function deleteMounts(db: Database, containerId: string): number {
  return db.prepare('DELETE FROM container_mounts WHERE container_id = ?').run(containerId).changes;
}
