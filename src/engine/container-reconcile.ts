/**
 * What a container's row says, checked against what is on disk and in
 * /proc whenever the engine reads it. A detached container's monitor writes
 * an exit file when the container is gone for good; nobody has to be
 * running at that moment for the row to become right later:
 *
 *   exit file present         -> exited (status, time; OOM from the cgroup),
 *                                then its cgroup, mounts and networks go
 *   monitor gone, no exit     -> exited, error "monitor lost"; whatever is
 *                                left in its cgroup is killed, then cleanup
 *   monitor alive             -> running (pid from the started file)
 *
 * A container run in the foreground has no monitor: its CLI writes the
 * row. If that CLI was killed the container died with it (parent-death
 * signal), and the row is settled the same way once its pid is gone.
 *
 * Only the process whose guarded transition (running -> exited) wins does
 * the cleanup; the others see the settled row.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, shortId } from '../common/index.js';
import { containers, type ContainerRecord } from '../db/index.js';
import { createCgroupManager, DEFAULT_CGROUP_PARENT, readExitFile, readStartFile } from '../runtime/index.js';
import { isMonitorAlive, readMonitorPid } from '../sys/index.js';
import { cleanupSteps, releaseCgroup } from './cleanup-steps.js';
import { bundlePaths, removeBundle, removeEmptyCgroups, unmountBelow, type BundlePaths } from './container-fs.js';
import { startLockHolder } from './container-lock.js';
import { detachNetworks } from './network.js';
import { releaseContainerVolumes } from './volumes.js';
import type { EngineState } from './state.js';

/** The status a container gets when its monitor vanished without an exit file (it was killed). */
export const LOST_EXIT_CODE = 137;

export function runDirOf(state: EngineState, id: string): string {
  return path.join(state.paths.runRoot, id);
}

export function bundleOf(state: EngineState, id: string): BundlePaths {
  return bundlePaths(state.paths.containers, id);
}

/** Docker's place for the json-file log: <bundle>/<id>-json.log. */
export function logPathOf(state: EngineState, id: string): string {
  return path.join(bundleOf(state, id).dir, `${id}-json.log`);
}

/** The container a user's word (name, id, unique id prefix) names; Docker's "No such container" otherwise. */
export function lookupContainer(state: EngineState, nameOrId: string): ContainerRecord {
  const found = containers.findContainer(state.db(), nameOrId);
  if (found === undefined) throw new EngineError('NOT_FOUND', `No such container: ${nameOrId}`);
  return found;
}

/** lookupContainer, then reconciled. */
export async function currentContainer(state: EngineState, nameOrId: string): Promise<ContainerRecord> {
  return reconcileContainer(state, lookupContainer(state, nameOrId));
}

function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Whether the container has a monitor run dir (it was started detached). */
export function hasMonitor(state: EngineState, id: string): boolean {
  return readMonitorPid(runDirOf(state, id)) !== undefined;
}

/**
 * Whether a running container is between two runs: its monitor lives but the
 * process it last started is gone (a restart policy's back-off).
 */
export function isRestarting(state: EngineState, record: ContainerRecord): boolean {
  if (record.state !== 'running') return false;
  const runDir = runDirOf(state, record.id);
  if (readMonitorPid(runDir) === undefined) return false;
  try {
    const started = readStartFile(runDir);
    return started !== undefined && !processAlive(started.pid) && readExitFile(runDir) === undefined;
  } catch {
    return false;
  }
}

/** The row brought up to date with the monitor's files (see the top of this file). */
export async function reconcileContainer(state: EngineState, record: ContainerRecord): Promise<ContainerRecord> {
  if (record.state === 'created' || record.state === 'exited') return adoptOrphan(state, record);
  if (record.state !== 'running' && record.state !== 'paused') return record;
  const runDir = runDirOf(state, record.id);
  const monitorPid = readMonitorPid(runDir);
  if (monitorPid === undefined) {
    // Run in the foreground: its CLI settles the row, unless it is gone too.
    if (record.pid !== null && processAlive(record.pid)) return record;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = containers.getContainer(state.db(), record.id);
    if (again === undefined || (again.state !== 'running' && again.state !== 'paused')) return again ?? record;
    return settle(state, again, { exitCode: LOST_EXIT_CODE, error: 'engine lost: the process that ran the container is gone', finishedAt: new Date().toISOString() });
  }
  let exit = readExitFile(runDir);
  if (exit === undefined && !isMonitorAlive(monitorPid, runDir)) {
    exit = readExitFile(runDir); // it may have written the file and exited in between
    if (exit === undefined) {
      return settle(state, record, { exitCode: LOST_EXIT_CODE, error: 'monitor lost', finishedAt: new Date().toISOString() });
    }
  }
  if (exit !== undefined) {
    return settle(state, record, { exitCode: exit.status, finishedAt: exit.finishedAt, oomKilled: exit.oomKilled });
  }
  const started = readStartFile(runDir);
  return started === undefined ? record : { ...record, pid: started.pid };
}

/**
 * A CLI killed between launching a container and recording it leaves a
 * live monitor behind a row that says created or exited. With no starter
 * holding the start lock any more, the row is brought up to date: running.
 */
function adoptOrphan(state: EngineState, record: ContainerRecord): ContainerRecord {
  const runDir = runDirOf(state, record.id);
  const monitorPid = readMonitorPid(runDir);
  if (monitorPid === undefined || startLockHolder(runDir) !== undefined) return record;
  if (!isMonitorAlive(monitorPid, runDir) || readExitFile(runDir) !== undefined) return record;
  const started = readStartFile(runDir);
  if (started === undefined || startLockHolder(runDir) !== undefined) return record;
  try {
    return containers.setState(state.db(), record.id, {
      to: 'running',
      from: [record.state],
      pid: started.pid,
      exitCode: null,
      error: null,
      oomKilled: false,
      startedAt: started.startedAt,
      finishedAt: null,
    });
  } catch {
    return containers.getContainer(state.db(), record.id) ?? record;
  }
}

interface Ending {
  exitCode: number;
  finishedAt: string;
  error?: string;
  oomKilled?: boolean;
}

/** Moves the row to exited (if this process wins the transition) and releases what the container held. */
async function settle(state: EngineState, record: ContainerRecord, ending: Ending): Promise<ContainerRecord> {
  const cgroup = createCgroupManager({ name: record.id, explainer: state.explainer });
  const oomKilled = ending.oomKilled === true || (await cgroup.oomKilled().catch(() => false));
  let settled: ContainerRecord;
  try {
    settled = containers.setState(state.db(), record.id, {
      to: 'exited',
      from: ['running', 'paused'],
      pid: null,
      exitCode: ending.exitCode,
      oomKilled,
      error: ending.error ?? null,
      finishedAt: ending.finishedAt,
    });
  } catch (error) {
    if (error instanceof EngineError && (error.code === 'CONFLICT' || error.code === 'NOT_FOUND')) {
      // Another process settled (or removed) it first; it does the cleanup.
      return containers.getContainer(state.db(), record.id) ?? record;
    }
    throw error;
  }
  try {
    await releaseContainer(state, record.id);
  } catch (error) {
    try {
      return containers.setState(state.db(), record.id, { to: 'dead', error: error instanceof Error ? error.message : String(error) });
    } catch {
      return settled;
    }
  }
  if (autoRemove(record)) {
    // run -d --rm: gone once seen ended; whoever settled it still gets the exit code.
    try {
      containers.setState(state.db(), record.id, { to: 'removing', from: ['exited'] });
    } catch {
      return settled; // an rm got there first
    }
    try {
      discardContainer(state, record.id, { removeAnonymousVolumes: true });
    } catch (error) {
      try {
        containers.setState(state.db(), record.id, { to: 'dead', error: error instanceof Error ? error.message : String(error) });
      } catch {
        // gone meanwhile
      }
    }
  }
  return settled;
}

/**
 * Releases what an ended (or killed) container holds on the host: the
 * processes left in its cgroup are killed, the cgroup removed, its networks
 * left (CNI DEL) and its root file system unmounted. Idempotent; every step
 * is tried; the first failure is thrown at the end.
 */
export async function releaseContainer(state: EngineState, id: string): Promise<void> {
  const explainer = state.explainer;
  const steps = cleanupSteps();
  const { attempt, problems } = steps;
  await releaseCgroup(createCgroupManager({ name: id, explainer }), steps);
  await attempt(() => removeEmptyCgroups(DEFAULT_CGROUP_PARENT, id, explainer));
  await attempt(async () => {
    const report = await detachNetworks(state, id);
    if (report.errors.length > 0) throw new EngineError('INTERNAL', `leave the networks of container ${shortId(id)}: ${report.errors.join('; ')}`);
  });
  await attempt(() => unmountBelow(bundleOf(state, id).rootfs, explainer));
  if (problems.length > 0) {
    throw new EngineError('INTERNAL', `clean up container ${shortId(id)}: ${problems.length} step(s) failed`, { cause: problems[0] });
  }
}

function autoRemove(record: ContainerRecord): boolean {
  try {
    return (JSON.parse(record.config) as { rm?: unknown }).rm === true;
  } catch {
    return false;
  }
}

/**
 * The last step of removing a released container whose row is 'removing'
 * (or 'dead'): its run dir, bundle, mount rows (and anonymous volumes when
 * asked) and finally its row.
 */
export function discardContainer(state: EngineState, id: string, options: { removeAnonymousVolumes?: boolean } = {}): void {
  const bundle = bundleOf(state, id);
  const runDir = runDirOf(state, id);
  state.explainer.step({ topic: 'storage', say: `remove the container's bundle and run dir`, call: `rm -rf ${bundle.dir} ${runDir}` });
  fs.rmSync(runDir, { recursive: true, force: true });
  removeBundle(bundle);
  releaseContainerVolumes(state, id, { removeAnonymous: options.removeAnonymousVolumes === true });
  containers.deleteContainer(state.db(), id, ['removing', 'dead']);
}
