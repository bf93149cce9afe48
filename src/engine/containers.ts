/**
 * The container verbs after `run`: ps, inspect, start, stop, restart,
 * kill, rm, wait, rename, pause, unpause, prune, logs, top, stats. Every
 * verb reads the row reconciled with the monitor's files first
 * (container-reconcile.ts), and every state change is one guarded
 * transaction, so CLIs working on the same container at once see one
 * winner and a clear error for the other.
 *
 *   rm:  running? -f: no restart, SIGKILL its cgroup, wait for the exit file
 *        row -> removing (the claim: one remover)
 *        cgroup, networks, mounts released; run dir, bundle and row removed
 */
import fs from 'node:fs';
import os from 'node:os';
import { EngineError, isValidName, shortId } from '../common/index.js';
import { containers, type ContainerRecord } from '../db/index.js';
import { createCgroupManager, readLogs } from '../runtime/index.js';
import { isMonitorAlive, readMonitorPid } from '../sys/index.js';
import { inspectRecord, listContainerSummaries } from './container-inspect.js';
import { currentContainer, discardContainer, hasMonitor, logPathOf, lookupContainer, releaseContainer, runDirOf } from './container-reconcile.js';
import { startDetachedContainer } from './container-start.js';
import { forceDown, killContainer, stopContainer, waitContainer } from './container-stop.js';
import type { ContainerLogChunk, ContainerLogsOptions, ContainerProcess, ContainerPruneReport, ContainerStats, ContainerVerbs, RemoveContainerOptions } from './container-types.js';
import type { EngineState } from './state.js';

const isUp = (record: ContainerRecord) => record.state === 'running' || record.state === 'paused';

/**
 * Removes a container and everything it holds. A running one is refused
 * unless `force`; two removers of one container: one removes it, the other
 * is told the removal is already in progress (or that it is gone).
 */
export async function removeContainer(state: EngineState, nameOrId: string, options: RemoveContainerOptions = {}): Promise<ContainerRecord> {
  let record = await currentContainer(state, nameOrId);
  if (isUp(record)) {
    if (options.force !== true) {
      throw new EngineError('CONFLICT', `cannot remove container "/${record.name}": container is ${record.state}: stop the container before removing or force remove`);
    }
    record = (await forceDown(state, record)) ?? record;
  }
  const db = state.db();
  try {
    containers.setState(db, record.id, { to: 'removing', from: ['created', 'exited', 'stopped', 'dead'] });
  } catch (error) {
    if (!(error instanceof EngineError) || (error.code !== 'CONFLICT' && error.code !== 'NOT_FOUND')) throw error;
    const now = containers.getContainer(db, record.id);
    if (now === undefined) throw new EngineError('NOT_FOUND', `No such container: ${nameOrId}`, { cause: error });
    if (now.state === 'removing') throw new EngineError('CONFLICT', `removal of container ${nameOrId} is already in progress`, { cause: error });
    throw error;
  }
  try {
    await releaseContainer(state, record.id);
    // With -v its anonymous volumes go too.
    discardContainer(state, record.id, { removeAnonymousVolumes: options.volumes === true });
  } catch (error) {
    try {
      containers.setState(db, record.id, { to: 'dead', error: error instanceof Error ? error.message : String(error) });
    } catch {
      // Gone or already dead: the error below says what failed.
    }
    throw new EngineError('INTERNAL', `remove container ${shortId(record.id)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, hint: 'retry with rm -f' });
  }
  return record;
}

/** Removes every container that is not running; one failure does not stop the others. */
export async function pruneContainers(state: EngineState): Promise<ContainerPruneReport> {
  const deleted: string[] = [];
  for (const row of containers.listContainers(state.db())) {
    if (row.state === 'removing') continue;
    try {
      const record = await currentContainer(state, row.id);
      if (isUp(record)) continue;
      await removeContainer(state, row.id);
      deleted.push(row.id);
    } catch {
      // Removed by someone else, or its removal failed (the row says dead): on to the next.
    }
  }
  return { ContainersDeleted: deleted, SpaceReclaimed: 0 };
}

export async function renameContainer(state: EngineState, nameOrId: string, newName: string): Promise<void> {
  const name = newName.startsWith('/') ? newName.slice(1) : newName;
  if (!isValidName(name)) throw new EngineError('INVALID_ARGUMENT', `Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const record = lookupContainer(state, nameOrId);
  if (record.name === name) throw new EngineError('INVALID_ARGUMENT', `Renaming a container with the same name as its current name`);
  containers.renameContainer(state.db(), record.id, name);
}

export async function pauseContainer(state: EngineState, nameOrId: string): Promise<ContainerRecord> {
  const record = await currentContainer(state, nameOrId);
  if (record.state === 'paused') throw new EngineError('CONFLICT', `Container ${record.id} is already paused`);
  if (record.state !== 'running') throw new EngineError('CONFLICT', `Container ${record.id} is not running`);
  const cgroup = createCgroupManager({ name: record.id, explainer: state.explainer });
  await cgroup.freeze();
  try {
    return containers.setState(state.db(), record.id, { to: 'paused', from: ['running'] });
  } catch (error) {
    await cgroup.thaw().catch(() => undefined);
    throw error;
  }
}

export async function unpauseContainer(state: EngineState, nameOrId: string): Promise<ContainerRecord> {
  const record = await currentContainer(state, nameOrId);
  if (record.state !== 'paused') throw new EngineError('CONFLICT', `Container ${record.id} is not paused`);
  await createCgroupManager({ name: record.id, explainer: state.explainer }).thaw();
  return containers.setState(state.db(), record.id, { to: 'running', from: ['paused'] });
}

/** The container's log, as `docker logs` prints it; with follow, until the container has ended. */
export async function* containerLogs(state: EngineState, nameOrId: string, options: ContainerLogsOptions = {}): AsyncGenerator<ContainerLogChunk> {
  const record = await currentContainer(state, nameOrId);
  const file = logPathOf(state, record.id);
  if (!fs.existsSync(file)) {
    if (record.state !== 'created' && !hasMonitor(state, record.id)) {
      throw new EngineError('FAILED_PRECONDITION', `logs of container ${record.name}: it ran in the foreground, so its output went to the terminal and no log was kept`, {
        hint: 'run it detached (run -d, or start it again) to keep a log',
      });
    }
    return;
  }
  const runDir = runDirOf(state, record.id);
  // This run has ended when its monitor wrote the exit file or is gone (a restart makes a new monitor).
  const monitor = readMonitorPid(runDir);
  const done = () => fs.existsSync(`${runDir}/exit`) || monitor === undefined || !isMonitorAlive(monitor, runDir);
  for await (const chunk of readLogs(file, {
    ...(options.follow === true ? { follow: true, done } : {}),
    ...(options.tail === undefined ? {} : { tail: options.tail }),
    ...(options.since === undefined ? {} : { since: options.since }),
    ...(options.until === undefined ? {} : { until: options.until }),
    ...(options.timestamps === true ? { timestamps: true } : {}),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })) {
    yield { stream: chunk.stream, text: chunk.text };
  }
}

const CLOCK_TICKS = 100;

function psTime(ticks: number): string {
  const total = Math.floor(ticks / CLOCK_TICKS);
  const days = Math.floor(total / 86400);
  const hh = String(Math.floor((total % 86400) / 3600)).padStart(2, '0');
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, '0');
  const ss = String(total % 60).padStart(2, '0');
  return `${days > 0 ? `${days}-` : ''}${hh}:${mm}:${ss}`;
}

function hostUsers(): Map<number, string> {
  const users = new Map<number, string>();
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid && /^\d+$/.test(uid) && !users.has(Number(uid))) users.set(Number(uid), name);
    }
  } catch {
    // No passwd: numeric users.
  }
  return users;
}

/** The processes in the container's cgroup, as the host sees them (like `ps -o pid,user,time,cmd`). */
export async function topContainer(state: EngineState, nameOrId: string): Promise<ContainerProcess[]> {
  const record = await currentContainer(state, nameOrId);
  if (!isUp(record)) throw new EngineError('CONFLICT', `Container ${record.id} is not running`);
  const pids = (await createCgroupManager({ name: record.id, explainer: state.explainer }).pids()).sort((a, b) => a - b);
  const users = hostUsers();
  const processes: ContainerProcess[] = [];
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      const uid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0');
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '').join(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      processes.push({ pid, user: users.get(uid) ?? String(uid), time: psTime(ticks), cmd: cmdline === '' ? `[${comm}]` : cmdline });
    } catch {
      // The process ended while we looked.
    }
  }
  return processes;
}

/** CPU, memory and pids of running containers from their cgroups, CPU sampled over an interval. */
export async function containerStats(state: EngineState, names: string[], options: { intervalMs?: number } = {}): Promise<ContainerStats[]> {
  const records: ContainerRecord[] = [];
  if (names.length === 0) {
    for (const row of containers.listContainers(state.db())) {
      const record = await currentContainer(state, row.id).catch(() => undefined);
      if (record !== undefined && isUp(record)) records.push(record);
    }
  } else {
    for (const name of names) records.push(await currentContainer(state, name));
  }
  const groups = records.map((record) => createCgroupManager({ name: record.id, explainer: state.explainer }));
  const before = await Promise.all(groups.map((group) => group.stats().catch(() => undefined)));
  const start = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 500));
  const after = await Promise.all(groups.map((group) => group.stats().catch(() => undefined)));
  const elapsedNs = Number(process.hrtime.bigint() - start);
  const hostMemory = os.totalmem();
  return records.map((record, i) => {
    const [first, second] = [before[i], after[i]];
    const up = isUp(record) && second !== undefined;
    const cpu = up && first !== undefined ? ((second.cpu.usageNs - first.cpu.usageNs) / elapsedNs) * 100 : 0;
    const usage = up ? second.memory.usage : 0;
    const limit = up && second.memory.limit !== null ? Math.min(second.memory.limit, hostMemory) : hostMemory;
    return {
      id: record.id,
      name: record.name,
      cpuPercent: Math.max(0, cpu),
      memoryUsage: usage,
      memoryLimit: limit,
      memoryPercent: limit > 0 ? (usage / limit) * 100 : 0,
      pids: up ? second.pids.current : 0,
    };
  });
}

/** The container verbs bound to an engine's state. */
export function containerVerbs(state: EngineState): ContainerVerbs {
  return {
    listContainers: (options) => listContainerSummaries(state, options),
    inspectContainer: async (nameOrId) => inspectRecord(state, await currentContainer(state, nameOrId)),
    startContainer: async (nameOrId) => (await startDetachedContainer(state, await currentContainer(state, nameOrId))).id,
    stopContainer: async (nameOrId, options) => (await stopContainer(state, nameOrId, options)).id,
    restartContainer: async (nameOrId, options) => {
      const stopped = await stopContainer(state, nameOrId, options);
      return (await startDetachedContainer(state, await currentContainer(state, stopped.id))).id;
    },
    killContainer: async (nameOrId, signal) => (await killContainer(state, nameOrId, signal)).id,
    removeContainer: async (nameOrId, options) => (await removeContainer(state, nameOrId, options)).id,
    waitContainer: (nameOrId, options) => waitContainer(state, nameOrId, options),
    renameContainer: (nameOrId, newName) => renameContainer(state, nameOrId, newName),
    pauseContainer: async (nameOrId) => (await pauseContainer(state, nameOrId)).id,
    unpauseContainer: async (nameOrId) => (await unpauseContainer(state, nameOrId)).id,
    pruneContainers: () => pruneContainers(state),
    containerLogs: (nameOrId, options) => containerLogs(state, nameOrId, options),
    topContainer: (nameOrId) => topContainer(state, nameOrId),
    containerStats: (names, options) => containerStats(state, names, options),
  };
}
