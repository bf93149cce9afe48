/**
 * Volumes: the verbs (create, ls, inspect, rm, prune) and what `run` does
 * with -v, --mount, --tmpfs, --volumes-from and the image's VOLUMEs.
 *
 *   parse the flags (volume/, pure)  ->  merge with inherited mounts and image VOLUMEs
 *   per request:  bind    -> the host path (made for -v, refused for --mount when missing)
 *                 volume  -> row + <root>/volumes/<name>/_data (anonymous: a random name)
 *                            -> copy-up of the image's content when new and empty
 *                 tmpfs   -> nothing on the host
 *   the container's mounts recorded (inspect, --volumes-from, "in use")
 *   -> OCI mounts for config.json; the launcher mounts them inside the
 *      container's mount namespace, resolving each target in the rootfs
 *      (openat2 RESOLVE_IN_ROOT), so nothing is ever mounted on the host.
 *
 * A volume named by any container's mounts is in use: `volume rm` refuses it
 * unless forced. A container's anonymous volumes go with it (rm -v, run --rm).
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, type Explainer } from '../common/index.js';
import { containers, volumes, type Database, type MountRow, type VolumeRow } from '../db/index.js';
import { defaultMounts, validateSpec, type Mount, type Spec } from '../spec/index.js';
import {
  checkVolumeName,
  imageVolumeRequests,
  inheritedRequest,
  inspectMountOf,
  mergeMountRequests,
  mergeSpecMounts,
  newAnonymousVolumeName,
  ociMountOf,
  parseMountFlag,
  parseTmpfsFlag,
  parseVolumeFlag,
  parseVolumesFrom,
  recordedMountOf,
  type InspectMount,
  type MountRequest,
  type RecordedMount,
  type VolumesFromRequest,
} from '../volume/index.js';
import { resolveInRoot } from './container-fs.js';
import type { EngineState } from './state.js';
import { copyUp } from './volume-copy.js';
import type { VolumeCreateRequest, VolumeInspect, VolumePruneReport } from './types.js';

// ---------------------------------------------------------------- verbs

function volumeDir(state: EngineState, name: string): string {
  return path.join(state.paths.volumes, name);
}

export function volumeDataDir(state: EngineState, name: string): string {
  return path.join(volumeDir(state, name), '_data');
}

function inspectOf(state: EngineState, row: VolumeRow): VolumeInspect {
  const labels = { ...row.labels };
  if (row.anonymous) labels['com.docker.volume.anonymous'] = '';
  return {
    CreatedAt: row.createdAt,
    Driver: row.driver,
    Labels: labels,
    Mountpoint: volumeDataDir(state, row.name),
    Name: row.name,
    Options: {},
    Scope: 'local',
  };
}

/** Makes <volumes>/<name>/_data (0755 root) unless it exists. */
function ensureVolumeDirs(state: EngineState, name: string): void {
  fs.mkdirSync(state.paths.volumes, { recursive: true, mode: 0o711 });
  const dir = volumeDir(state, name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  fs.mkdirSync(path.join(dir, '_data'), { recursive: true, mode: 0o755 });
}

function explainCreate(explainer: Explainer, state: EngineState, name: string, why: string): void {
  explainer.step({ topic: 'storage', say: `create ${why} ${name.length === 64 ? name.slice(0, 12) : name}: a directory the engine bind-mounts into containers`, call: `mkdir -p ${volumeDataDir(state, name)}` });
}

/** `volume create [NAME] [--label k=v]`: idempotent for an existing name, like Docker's. */
export async function createVolume(state: EngineState, request: VolumeCreateRequest = {}): Promise<VolumeInspect> {
  const name = request.name === undefined || request.name === '' ? newAnonymousVolumeName() : checkVolumeName(request.name, 'create volume');
  const db = state.db();
  const { volume, created } = volumes.ensureVolume(db, { name, labels: request.labels ?? {} });
  if (created) explainCreate(state.explainer, state, name, 'volume');
  ensureVolumeDirs(state, name);
  return inspectOf(state, volume);
}

export async function listVolumes(state: EngineState): Promise<VolumeInspect[]> {
  return volumes.listVolumes(state.db()).map((row) => inspectOf(state, row));
}

function getVolumeRow(db: Database, name: string): VolumeRow {
  const row = volumes.getVolume(db, name);
  if (row === undefined) throw new EngineError('NOT_FOUND', `get volume ${name}: no such volume`, { hint: 'list volumes with: volume ls' });
  return row;
}

export async function inspectVolume(state: EngineState, name: string): Promise<VolumeInspect> {
  return inspectOf(state, getVolumeRow(state.db(), name));
}

/** Removes a volume's files, never following a symlink out of it. */
function removeVolumeFiles(state: EngineState, name: string): void {
  const dir = volumeDir(state, name);
  state.explainer.step({ topic: 'storage', say: `remove the data of volume ${name.length === 64 ? name.slice(0, 12) : name}`, call: `rm -rf ${dir}` });
  fs.rmSync(dir, { recursive: true, force: true });
}

/** `volume rm`: refused while a container uses it unless `force`. */
export async function removeVolume(state: EngineState, name: string, options: { force?: boolean } = {}): Promise<void> {
  const db = state.db();
  getVolumeRow(db, name);
  volumes.deleteVolume(db, name, { force: options.force === true });
  removeVolumeFiles(state, name);
}

function diskUsage(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    try {
      const st = fs.lstatSync(full);
      total += st.isDirectory() ? diskUsage(full) : st.size;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

/** `volume prune`: unused anonymous volumes, or every unused volume with `all`. */
export async function pruneVolumes(state: EngineState, options: { all?: boolean } = {}): Promise<VolumePruneReport> {
  const db = state.db();
  const report: VolumePruneReport = { VolumesDeleted: [], SpaceReclaimed: 0 };
  for (const row of volumes.unusedVolumes(db, { all: options.all === true })) {
    const size = diskUsage(volumeDataDir(state, row.name));
    try {
      if (!volumes.deleteVolume(db, row.name)) continue;
    } catch (error) {
      // Taken into use since it was listed.
      if (error instanceof EngineError && error.code === 'CONFLICT') continue;
      throw error;
    }
    removeVolumeFiles(state, row.name);
    report.VolumesDeleted.push(row.name);
    report.SpaceReclaimed += size;
  }
  return report;
}

// ---------------------------------------------------------------- run

/** The volume flags of run, as typed. */
export interface RunMountFlags {
  volumes?: readonly string[] | undefined;
  mounts?: readonly string[] | undefined;
  tmpfs?: readonly string[] | undefined;
  volumesFrom?: readonly string[] | undefined;
}

export interface ParsedRunMounts {
  explicit: MountRequest[];
  volumesFrom: VolumesFromRequest[];
}

/** Parses every volume flag (INVALID_ARGUMENT naming the flag); run calls it before making anything. */
export function parseRunMounts(flags: RunMountFlags, cwd: string = process.cwd()): ParsedRunMounts {
  const explicit = [
    ...(flags.volumes ?? []).map((text) => parseVolumeFlag(text, { cwd })),
    ...(flags.mounts ?? []).map((text) => parseMountFlag(text, { cwd })),
    ...(flags.tmpfs ?? []).map((text) => parseTmpfsFlag(text)),
  ];
  // Two explicit mounts on one path fail here, before anything is made.
  mergeMountRequests({ explicit });
  return { explicit, volumesFrom: (flags.volumesFrom ?? []).map(parseVolumesFrom) };
}

function findContainer(db: Database, nameOrId: string): containers.ContainerRecord {
  const found =
    containers.getContainerByName(db, nameOrId) ??
    containers.getContainer(db, nameOrId) ??
    (() => {
      if (!/^[0-9a-f]{1,63}$/.test(nameOrId)) return undefined;
      const matches = containers.listContainers(db).filter((c) => c.id.startsWith(nameOrId));
      if (matches.length > 1) throw new EngineError('CONFLICT', `--volumes-from ${nameOrId}: the id prefix matches ${matches.length} containers`);
      return matches[0];
    })();
  if (found === undefined) throw new EngineError('NOT_FOUND', `--volumes-from ${nameOrId}: no such container`);
  return found;
}

function recordedOf(row: MountRow): RecordedMount {
  const mount: RecordedMount = { type: row.type, source: row.source, destination: row.destination, mode: row.mode, rw: row.rw, propagation: row.propagation };
  if (row.volumeName !== null) mount.name = row.volumeName;
  if (row.anonymous) mount.anonymous = true;
  return mount;
}

function inheritedRequests(db: Database, from: readonly VolumesFromRequest[]): MountRequest[] {
  const out: MountRequest[] = [];
  for (const request of from) {
    const other = findContainer(db, request.container);
    for (const row of volumes.listMounts(db, other.id)) {
      // tmpfs is the other container's memory, and a force-removed volume is gone: neither is shared.
      if (row.type === 'tmpfs' || (row.type === 'volume' && row.volumeName === null)) continue;
      out.push(inheritedRequest(recordedOf(row), request.container, request.mode));
    }
  }
  return out;
}

export interface PrepareMountsRequest {
  containerId: string;
  /** The container's merged rootfs (mounted): copy-up reads the image's content through it. */
  rootfs: string;
  /** The image config's `config` object (its Volumes are read). */
  imageConfig: { Volumes?: Record<string, unknown> | null } | object;
  parsed: ParsedRunMounts;
}

/** Where a bind's host source is: made when -v names a missing path, refused for --mount. */
function prepareBindSource(request: MountRequest, explainer: Explainer): string {
  if (fs.existsSync(request.source)) return request.source;
  if (request.createSource !== true) {
    throw new EngineError('INVALID_ARGUMENT', `${request.origin}: invalid mount config for type "bind": bind source path does not exist: ${request.source}`, {
      hint: 'create it first, or use -v, which creates a missing directory',
    });
  }
  explainer.step({ topic: 'mount', say: `create the missing bind source ${request.source} on the host (as -v does)`, call: `mkdir -p ${request.source}` });
  fs.mkdirSync(request.source, { recursive: true, mode: 0o755 });
  return request.source;
}

/**
 * Everything run needs for the container's volumes: volumes made (and
 * filled), binds' sources checked or made, the mounts recorded. Returns the
 * OCI mounts to merge into the spec (mergeRunMounts). The container's row
 * must exist; on failure, releaseContainerVolumes undoes what was made.
 */
export function prepareRunMounts(state: EngineState, request: PrepareMountsRequest): Mount[] {
  const db = state.db();
  const explainer = state.explainer;
  const imageVolumes = (request.imageConfig as { Volumes?: Record<string, unknown> | null }).Volumes;
  const merged = mergeMountRequests({
    explicit: request.parsed.explicit,
    inherited: inheritedRequests(db, request.parsed.volumesFrom),
    image: imageVolumeRequests(imageVolumes),
  });
  const recorded: RecordedMount[] = [];
  const oci: Mount[] = [];
  const record = () =>
    volumes.recordMounts(
      db,
      request.containerId,
      recorded.map((m) => ({
        type: m.type,
        volumeName: m.name ?? null,
        source: m.source,
        destination: m.destination,
        mode: m.mode,
        rw: m.rw,
        propagation: m.propagation,
        anonymous: m.anonymous === true,
      })),
    );
  try {
    for (const asked of merged) {
      const inRoot = resolveInRoot(request.rootfs, asked.target);
      if (path.resolve(inRoot) === path.resolve(request.rootfs)) {
        throw new EngineError('INVALID_ARGUMENT', `${asked.origin}: the mount target ${asked.target} resolves to the container's root (a symlink to /)`, {
          hint: 'mount on another path',
        });
      }
      if (asked.type === 'tmpfs') {
        recorded.push(recordedMountOf(asked, '', false));
        oci.push(ociMountOf(asked, ''));
        continue;
      }
      if (asked.type === 'bind') {
        const source = prepareBindSource(asked, explainer);
        recorded.push(recordedMountOf(asked, source, false));
        oci.push(ociMountOf(asked, source));
        continue;
      }
      const anonymous = asked.source === '';
      const name = anonymous ? newAnonymousVolumeName() : asked.source;
      const { created } = volumes.ensureVolume(db, { name, anonymous, labels: asked.labels ?? {} });
      const volume: MountRequest = { ...asked, source: name };
      const source = volumeDataDir(state, name);
      if (created) explainCreate(explainer, state, name, anonymous ? 'anonymous volume' : 'volume');
      ensureVolumeDirs(state, name);
      // Record now: a failure below still leaves a row to clean up (and marks the volume in use).
      recorded.push(recordedMountOf(volume, source, anonymous));
      record();
      if (asked.noCopy !== true && volumes.volumeUsers(db, name).every((user) => user.containerId === request.containerId)) {
        copyUp(inRoot, volumeDir(state, name), explainer, asked.target);
      }
      oci.push(ociMountOf(volume, source));
    }
    record();
  } catch (error) {
    try {
      record();
    } catch {
      // The first failure is the one to report; release still finds the rows recorded so far.
    }
    throw error;
  }
  return oci;
}

/**
 * Puts the volume mounts into the spec (after its default mounts, parents
 * before children; a volume on /dev/shm or /etc/hosts replaces the spec's)
 * and validates the result.
 */
export function mergeRunMounts(spec: Spec, mounts: readonly Mount[], options: { privileged?: boolean } = {}): Spec {
  if (mounts.length === 0) return spec;
  const defaults = defaultMounts({ privileged: options.privileged === true }).map((m) => m.destination);
  const merged: Spec = { ...spec, mounts: mergeSpecMounts(spec.mounts, mounts, defaults) };
  validateSpec(merged);
  return merged;
}

/**
 * Forgets a container's mounts; with `removeAnonymous` (rm -v, run --rm)
 * also removes the anonymous volumes it made that no other container uses.
 * Call before the container's row is deleted (the rows say which volumes
 * were its own). Returns the names of the volumes removed.
 */
export function releaseContainerVolumes(state: EngineState, containerId: string, options: { removeAnonymous?: boolean } = {}): string[] {
  const db = state.db();
  const own = volumes
    .listMounts(db, containerId)
    .filter((row) => row.type === 'volume' && row.anonymous && row.volumeName !== null)
    .map((row) => row.volumeName!);
  volumes.deleteMounts(db, containerId);
  const removed: string[] = [];
  if (options.removeAnonymous !== true) return removed;
  for (const name of own) {
    try {
      if (!volumes.deleteVolume(db, name)) continue;
    } catch (error) {
      if (error instanceof EngineError && error.code === 'CONFLICT') continue;
      throw error;
    }
    removeVolumeFiles(state, name);
    removed.push(name);
  }
  return removed;
}

/** A container's mounts in Docker's inspect shape (Mounts). */
export function mountsForInspect(state: EngineState, containerId: string): InspectMount[] {
  return volumes.listMounts(state.db(), containerId).map((row) => inspectMountOf(recordedOf(row)));
}
