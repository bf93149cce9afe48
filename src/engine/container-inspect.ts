/**
 * What `ps` and `inspect` show of a container, Docker's shapes: the row
 * (state, times, exit), its intent (the run request it was created with),
 * its OCI spec (config.json: the command, env, limits as planned) and its
 * image's config (Cmd, Entrypoint, StopSignal).
 */
import { EngineError } from '../common/index.js';
import { containers, images, type ContainerRecord } from '../db/index.js';
import { readExitFile, readStartFile } from '../runtime/index.js';
import type { ImageRunConfig, Spec } from '../spec/index.js';
import type { ContainerInspect, ContainerSummary, ListContainersOptions } from './container-types.js';
import { bundleOf, isRestarting, logPathOf, reconcileContainer, runDirOf } from './container-reconcile.js';
import { intentOf, readSpec } from './container-start.js';
import { stopSignalOf } from './container-stop.js';
import { networkSettingsOf } from './network.js';
import { resolveImage } from './resolve-image.js';
import { mountsForInspect } from './volumes.js';
import type { EngineState } from './state.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** go-units' HumanDuration, the words Docker uses in "Up 3 seconds". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** Docker's state name for a row's state. */
export function dockerState(record: ContainerRecord): string {
  return record.state === 'stopped' ? 'exited' : record.state;
}

/** The STATUS column: "Up 3 seconds", "Up 2 minutes (Paused)", "Exited (3) 2 minutes ago", "Created", "Dead". */
export function statusText(record: ContainerRecord, now = Date.now()): string {
  const since = (iso: string | null) => humanDuration(now - Date.parse(iso ?? new Date(now).toISOString()));
  switch (record.state) {
    case 'running':
      return `Up ${since(record.startedAt)}`;
    case 'paused':
      return `Up ${since(record.startedAt)} (Paused)`;
    case 'created':
      return 'Created';
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return record.finishedAt === null ? 'Exited' : `Exited (${record.exitCode ?? 0}) ${since(record.finishedAt)} ago`;
  }
}

function imageConfigOf(state: EngineState, record: ContainerRecord): ImageRunConfig & { StopSignal?: string } {
  if (record.imageId === null) return {};
  try {
    const parsed = JSON.parse(images.getImage(state.db(), record.imageId)?.config ?? '{}') as { config?: ImageRunConfig | null };
    return parsed.config ?? {};
  } catch {
    return {};
  }
}

function portsText(state: EngineState, id: string): string {
  const settings = networkSettingsOf(state, id);
  const parts: string[] = [];
  for (const [port, bindings] of Object.entries(settings.Ports)) {
    for (const binding of bindings) parts.push(`${binding.HostIp}:${binding.HostPort}->${port}`);
  }
  return parts.join(', ');
}

function summarize(state: EngineState, record: ContainerRecord, spec: Spec | undefined): ContainerSummary {
  const args = spec?.process.args ?? intentOf(record).command ?? [];
  const restarting = isRestarting(state, record);
  return {
    Id: record.id,
    Names: [record.name],
    Image: record.imageRef,
    ImageID: record.imageId ?? '',
    Command: args.join(' '),
    Created: record.createdAt,
    State: restarting ? 'restarting' : dockerState(record),
    Status: restarting ? 'Restarting' : statusText(record),
    Ports: record.state === 'running' || record.state === 'paused' ? portsText(state, record.id) : '',
    StartedAt: record.startedAt,
    FinishedAt: record.finishedAt,
    ExitCode: record.exitCode,
  };
}

const FILTER_KEYS = new Set(['status', 'name', 'ancestor', 'id', 'exited']);
const STATUS_VALUES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

/** --filter KEY=VALUE pairs grouped by key; INVALID_ARGUMENT for what Docker would refuse. */
export function parseFilters(filters: readonly string[]): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const filter of filters) {
    const at = filter.indexOf('=');
    if (at <= 0) throw new EngineError('INVALID_ARGUMENT', `bad format of filter (expected name=value): ${filter}`);
    const key = filter.slice(0, at).toLowerCase();
    const value = filter.slice(at + 1);
    if (!FILTER_KEYS.has(key)) throw new EngineError('INVALID_ARGUMENT', `invalid filter '${key}'`);
    if (key === 'status' && !STATUS_VALUES.has(value)) {
      throw new EngineError('INVALID_ARGUMENT', `invalid filter 'status=${value}'`, { hint: `one of ${[...STATUS_VALUES].join(', ')}` });
    }
    grouped.set(key, [...(grouped.get(key) ?? []), value]);
  }
  return grouped;
}

function ancestorIds(state: EngineState, refs: readonly string[]): Set<string> {
  const ids = new Set<string>();
  for (const ref of refs) {
    try {
      ids.add(resolveImage(state.db(), ref).id);
    } catch {
      // An unknown image matches no container.
    }
  }
  return ids;
}

/** `ps`: the reconciled containers, newest first; running ones only unless `all` or a status filter. */
export async function listContainerSummaries(state: EngineState, options: ListContainersOptions = {}): Promise<ContainerSummary[]> {
  const filters = parseFilters(options.filters ?? []);
  const all = options.all === true || filters.has('status') || filters.has('exited');
  const ancestors = filters.has('ancestor') ? ancestorIds(state, filters.get('ancestor')!) : undefined;
  const result: ContainerSummary[] = [];
  for (const row of containers.listContainers(state.db())) {
    const record = await reconcileContainer(state, row);
    const docker = isRestarting(state, record) ? 'restarting' : dockerState(record);
    if (!all && docker !== 'running' && docker !== 'paused' && docker !== 'restarting') continue;
    const statuses = filters.get('status');
    if (statuses !== undefined && !statuses.includes(docker)) continue;
    const names = filters.get('name');
    if (names !== undefined && !names.some((name) => record.name.includes(name.replace(/^\//, '')))) continue;
    const ids = filters.get('id');
    if (ids !== undefined && !ids.some((id) => record.id.startsWith(id))) continue;
    const exited = filters.get('exited');
    if (exited !== undefined && (docker !== 'exited' || !exited.includes(String(record.exitCode)))) continue;
    if (ancestors !== undefined && !(record.imageId !== null && ancestors.has(record.imageId)) && !filters.get('ancestor')!.includes(record.imageRef)) continue;
    result.push(summarize(state, record, readSpec(state, record.id)));
  }
  return result;
}

function restartPolicyOf(text: string | undefined): { Name: string; MaximumRetryCount: number } {
  if (text === undefined || text === '') return { Name: 'no', MaximumRetryCount: 0 };
  const [name = 'no', count] = text.split(':');
  return { Name: name, MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

/** `inspect`, Docker's shape, from a reconciled row. */
export function inspectRecord(state: EngineState, record: ContainerRecord): ContainerInspect {
  const intent = intentOf(record);
  const spec = readSpec(state, record.id);
  const image = imageConfigOf(state, record);
  const args = spec?.process.args ?? [];
  const bundle = bundleOf(state, record.id);
  const runDir = runDirOf(state, record.id);
  let restartCount = 0;
  try {
    restartCount = readExitFile(runDir)?.restartCount ?? readStartFile(runDir)?.restartCount ?? 0;
  } catch {
    // Unreadable monitor files: no count to show.
  }
  const up = record.state === 'running' || record.state === 'paused';
  const restarting = isRestarting(state, record);
  const resources = spec?.linux.resources;
  const command = intent.command !== undefined && intent.command.length > 0 ? intent.command : intent.entrypoint !== undefined ? null : image.Cmd ?? null;
  const entrypoint = intent.entrypoint !== undefined ? (intent.entrypoint === '' ? null : [intent.entrypoint]) : image.Entrypoint ?? null;
  return {
    Id: record.id,
    Created: record.createdAt,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: restarting ? 'restarting' : dockerState(record),
      Running: up,
      Paused: record.state === 'paused',
      Restarting: restarting,
      OOMKilled: record.oomKilled,
      Dead: record.state === 'dead',
      Pid: up ? record.pid ?? 0 : 0,
      ExitCode: record.exitCode ?? 0,
      Error: record.error ?? '',
      StartedAt: record.startedAt ?? ZERO_TIME,
      FinishedAt: record.finishedAt ?? ZERO_TIME,
    },
    Image: record.imageId ?? '',
    ResolvConfPath: bundle.resolvConf,
    HostnamePath: bundle.hostname,
    HostsPath: bundle.hosts,
    LogPath: logPathOf(state, record.id),
    Name: `/${record.name}`,
    RestartCount: restartCount,
    Driver: 'overlay',
    Platform: 'linux',
    Config: {
      Hostname: spec?.hostname ?? record.id.slice(0, 12),
      User: intent.user ?? image.User ?? '',
      Env: spec?.process.env ?? [],
      Cmd: command,
      Entrypoint: entrypoint,
      Image: record.imageRef,
      WorkingDir: spec?.process.cwd ?? '/',
      StopSignal: stopSignalOf(state, record),
      AttachStdin: false,
      OpenStdin: intent.interactive === true,
      Tty: intent.tty === true,
    },
    HostConfig: {
      Memory: resources?.memory?.limit ?? 0,
      MemorySwap: resources?.memory?.swap ?? 0,
      NanoCpus: intent.cpus === undefined ? 0 : Math.round(Number(intent.cpus) * 1e9),
      CpuShares: resources?.cpu?.shares ?? 0,
      CpusetCpus: resources?.cpu?.cpus ?? '',
      PidsLimit: resources?.pids?.limit ?? null,
      Privileged: intent.privileged === true,
      ReadonlyRootfs: spec?.root.readonly === true,
      RestartPolicy: restartPolicyOf(intent.restart),
      NetworkMode: intent.network ?? 'bridge',
      CapAdd: intent.capAdd ?? null,
      CapDrop: intent.capDrop ?? null,
      AutoRemove: intent.rm === true,
      Runtime: intent.runtime === undefined || intent.runtime === '' ? 'didactic' : intent.runtime,
    },
    Mounts: mountsForInspect(state, record.id),
    NetworkSettings: networkSettingsOf(state, record.id),
  };
}
