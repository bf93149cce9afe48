/**
 * Pure planning of a container's volume mounts:
 *
 *   image VOLUMEs  <  --volumes-from  <  -v / --mount / --tmpfs    (later wins on a path;
 *                                                                    two explicit on one path: error)
 *   request + its host source  ->  an OCI mount (bind: rbind + propagation + ro|rw;
 *                                  tmpfs: noexec,nosuid,nodev + size/mode; volume: bind of _data)
 *   the spec's own mounts + ours  ->  one list, defaults first, then by depth
 */
import path from 'node:path';
import { EngineError } from '../common/index.js';
import type { Mount } from '../spec/index.js';
import { DEFAULT_PROPAGATION, type InspectMount, type MountRequest, type Propagation, type RecordedMount } from './types.js';

function invalid(message: string, hint?: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', message, hint === undefined ? {} : { hint });
}

/** Anonymous volume requests for the image's config.Volumes (`VOLUME /data`), in path order. */
export function imageVolumeRequests(volumes: Record<string, unknown> | null | undefined): MountRequest[] {
  const out: MountRequest[] = [];
  for (const key of Object.keys(volumes ?? {}).sort()) {
    const origin = `image VOLUME ${key}`;
    if (!key.startsWith('/')) throw new EngineError('INVALID_ARGUMENT', `${origin}: the path is not absolute`);
    const clean = path.posix.normalize(key).replace(/(.)\/$/, '$1');
    if (clean === '/') throw new EngineError('INVALID_ARGUMENT', `${origin}: a volume cannot cover the whole root`);
    out.push({ type: 'volume', source: '', target: clean, readonly: false, mode: '', origin });
  }
  return out;
}

/** A recorded mount of another container as a request (--volumes-from), with the mode forced if asked. */
export function inheritedRequest(mount: RecordedMount, container: string, mode?: 'ro' | 'rw'): MountRequest {
  const readonly = mode === undefined ? !mount.rw : mode === 'ro';
  const origin = `--volumes-from ${container} (${mount.destination})`;
  if (mount.type === 'volume') {
    return { type: 'volume', source: mount.name ?? '', target: mount.destination, readonly, mode: mount.mode, origin, noCopy: true };
  }
  return {
    type: mount.type,
    source: mount.source,
    target: mount.destination,
    readonly,
    propagation: (mount.propagation || DEFAULT_PROPAGATION) as Propagation,
    mode: mount.mode,
    origin,
  };
}

/**
 * One list of requests: explicit ones (two on one path is an error), then
 * inherited ones and the image's volumes for paths nobody else took.
 */
export function mergeMountRequests(layers: { image?: MountRequest[]; inherited?: MountRequest[]; explicit?: MountRequest[] }): MountRequest[] {
  const byTarget = new Map<string, MountRequest>();
  for (const request of layers.explicit ?? []) {
    const other = byTarget.get(request.target);
    if (other !== undefined) throw invalid(`duplicate mount point: ${request.target} (${other.origin} and ${request.origin})`);
    byTarget.set(request.target, request);
  }
  for (const request of [...(layers.inherited ?? []), ...(layers.image ?? [])]) {
    if (!byTarget.has(request.target)) byTarget.set(request.target, request);
  }
  return [...byTarget.values()];
}

/** The tmpfs options Docker starts from; the user's follow and win. */
const TMPFS_DEFAULTS = ['noexec', 'nosuid', 'nodev'];

/**
 * The OCI mount of a request. `hostSource` is the bind's host path or the
 * volume's _data directory (ignored for tmpfs).
 */
export function ociMountOf(request: MountRequest, hostSource: string): Mount {
  const rw = request.readonly ? 'ro' : 'rw';
  if (request.type === 'tmpfs') {
    const options = [...TMPFS_DEFAULTS, ...(request.tmpfs?.options ?? [])];
    if (request.tmpfs?.size !== undefined) options.push(`size=${request.tmpfs.size}`);
    if (request.tmpfs?.mode !== undefined) options.push(`mode=${request.tmpfs.mode.toString(8).padStart(4, '0')}`);
    options.push(rw);
    return { destination: request.target, type: 'tmpfs', source: 'tmpfs', options };
  }
  if (!hostSource.startsWith('/')) throw invalid(`${request.origin}: the host source ${JSON.stringify(hostSource)} is not absolute`);
  return { destination: request.target, type: 'bind', source: hostSource, options: ['rbind', request.propagation ?? DEFAULT_PROPAGATION, rw] };
}

/** What is recorded for the container (and shown by inspect). */
export function recordedMountOf(request: MountRequest, hostSource: string, anonymous: boolean): RecordedMount {
  const recorded: RecordedMount = {
    type: request.type,
    source: request.type === 'tmpfs' ? '' : hostSource,
    destination: request.target,
    mode: request.mode,
    rw: !request.readonly,
    propagation: request.type === 'bind' ? request.propagation ?? DEFAULT_PROPAGATION : '',
  };
  if (request.type === 'volume') recorded.name = request.source;
  if (anonymous) recorded.anonymous = true;
  return recorded;
}

/** Docker's `Mounts` entry of inspect. */
export function inspectMountOf(mount: RecordedMount): InspectMount {
  const out: InspectMount = {
    Type: mount.type,
    Source: mount.source,
    Destination: mount.destination,
    Mode: mount.mode,
    RW: mount.rw,
    Propagation: mount.propagation,
  };
  if (mount.type === 'volume') {
    out.Name = mount.name ?? '';
    out.Driver = 'local';
  }
  return out;
}

function depth(mount: Mount): number {
  return mount.destination.split('/').filter(Boolean).length;
}

/**
 * The spec's mounts with the user's merged in. The spec starts with the
 * default mounts (/proc, /dev, ...; `defaultDestinations`), then its binds
 * (/etc/hosts ...). A user mount on the same path replaces the spec's
 * (--tmpfs /dev/shm, -v ./hosts:/etc/hosts); the defaults keep their order
 * and the rest is sorted by depth, so a parent is mounted before its child.
 */
export function mergeSpecMounts(specMounts: readonly Mount[], userMounts: readonly Mount[], defaultDestinations: Iterable<string>): Mount[] {
  const taken = new Set<string>();
  for (const mount of userMounts) {
    if (taken.has(mount.destination)) throw invalid(`duplicate mount point: ${mount.destination}`);
    taken.add(mount.destination);
  }
  const defaults = new Set(defaultDestinations);
  const kept = specMounts.filter((mount) => !taken.has(mount.destination));
  let prefix = 0;
  while (prefix < kept.length && defaults.has(kept[prefix]!.destination)) prefix++;
  const rest = [...kept.slice(prefix), ...userMounts].map((mount, index) => ({ mount, index }));
  rest.sort((a, b) => depth(a.mount) - depth(b.mount) || a.index - b.index);
  return [...kept.slice(0, prefix), ...rest.map((entry) => entry.mount)];
}
