/**
 * Ending a container from outside: stop (its stop signal, then SIGKILL to
 * every process of its cgroup after a grace period), kill (one signal), and
 * waiting for the end. A detached container is told first that the stop is
 * wanted (so its monitor does not restart it); the end itself is seen the
 * usual way, by reconciling the row with the monitor's exit file.
 */
import os from 'node:os';
import { EngineError, shortId } from '../common/index.js';
import { containers, images, type ContainerRecord } from '../db/index.js';
import { createCgroupManager } from '../runtime/index.js';
import { requestMonitorStop } from '../sys/index.js';
import { currentContainer, hasMonitor, reconcileContainer, runDirOf } from './container-reconcile.js';
import { intentOf } from './container-start.js';
import type { EngineState } from './state.js';

const DEFAULT_STOP_TIMEOUT = 10;

/** A signal as kill -s takes it: KILL, SIGKILL or 9. INVALID_ARGUMENT otherwise. */
export function parseSignal(text: string): { name: string; number: number } {
  const signals = os.constants.signals as Record<string, number>;
  const word = text.trim().toUpperCase();
  if (/^\d+$/.test(word)) {
    const number = Number(word);
    const name = Object.keys(signals).find((key) => signals[key] === number);
    if (name === undefined || number <= 0 || number > 64) throw new EngineError('INVALID_ARGUMENT', `invalid signal: ${text}`);
    return { name, number };
  }
  const name = word.startsWith('SIG') ? word : `SIG${word}`;
  const number = signals[name];
  if (number === undefined) throw new EngineError('INVALID_ARGUMENT', `invalid signal: ${text}`);
  return { name, number };
}

/** The signal `stop` sends first: the container's own, else its image's StopSignal, else SIGTERM. */
export function stopSignalOf(state: EngineState, record: ContainerRecord): string {
  const own = intentOf(record).stopSignal;
  if (own !== undefined) return own;
  if (record.imageId !== null) {
    const image = images.getImage(state.db(), record.imageId);
    try {
      const signal = (JSON.parse(image?.config ?? '{}') as { config?: { StopSignal?: string } | null }).config?.StopSignal;
      if (typeof signal === 'string' && signal !== '') return signal;
    } catch {
      // An unreadable image config: the default signal.
    }
  }
  return 'SIGTERM';
}

const isUp = (record: ContainerRecord) => record.state === 'running' || record.state === 'paused';

function signalPid(pid: number | null, signal: number): void {
  if (pid === null || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Polls the reconciled row until the container is no longer up, or the time is over; the last row read. */
async function waitUntilDown(state: EngineState, id: string, timeoutMs: number): Promise<ContainerRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    const row = containers.getContainer(state.db(), id);
    if (row === undefined) return undefined;
    const current = await reconcileContainer(state, row);
    if (!isUp(current) || Date.now() >= deadline) return current;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** SIGKILL to every process of the container's cgroup (and to its first process), then waits for the end. */
async function killHard(state: EngineState, record: ContainerRecord): Promise<ContainerRecord | undefined> {
  const cgroup = createCgroupManager({ name: record.id, explainer: state.explainer });
  await cgroup.kill().catch(() => undefined);
  signalPid(record.pid, os.constants.signals.SIGKILL);
  const after = await waitUntilDown(state, record.id, 10_000);
  if (after !== undefined && isUp(after)) {
    throw new EngineError('UNAVAILABLE', `stop container ${shortId(record.id)}: still running 10s after SIGKILL`);
  }
  return after;
}

/** A detached container's monitor is told the end is wanted, so its restart policy does not bring it back. */
function tellMonitor(state: EngineState, record: ContainerRecord): void {
  if (!hasMonitor(state, record.id)) return;
  const runDir = runDirOf(state, record.id);
  state.explainer.step({ topic: 'process', say: `tell the container's monitor not to restart it`, call: `write ${runDir}/stop; kill(monitor, SIGUSR1)` });
  requestMonitorStop(runDir);
}

/**
 * Stops a container: the monitor is told not to restart it, the stop
 * signal goes to its first process, and after `timeout` seconds whatever
 * is left of it is killed. A container that is not running is left alone.
 */
export async function stopContainer(state: EngineState, nameOrId: string, options: { timeout?: number; signal?: string } = {}): Promise<ContainerRecord> {
  const record = await currentContainer(state, nameOrId);
  if (!isUp(record)) return record;
  const signal = parseSignal(options.signal ?? stopSignalOf(state, record));
  const timeout = options.timeout ?? intentOf(record).stopTimeout ?? DEFAULT_STOP_TIMEOUT;
  tellMonitor(state, record);
  state.explainer.step({ topic: 'process', say: `ask the container's first process to stop with ${signal.name}, SIGKILL after ${timeout}s`, call: `kill(${record.pid}, ${signal.name})` });
  signalPid(record.pid, signal.number);
  if (record.state === 'paused') await createCgroupManager({ name: record.id, explainer: state.explainer }).thaw().catch(() => undefined);
  const after = timeout < 0 ? await waitUntilDown(state, record.id, 24 * 3600_000) : await waitUntilDown(state, record.id, timeout * 1000);
  if (after === undefined || !isUp(after)) return after ?? record;
  state.explainer.step({ topic: 'process', say: `still running after ${timeout}s: kill every process of its cgroup`, call: 'SIGKILL' });
  return (await killHard(state, after)) ?? after;
}

/** Ends a container now for rm -f: no restart, SIGKILL to its cgroup, wait for the end. */
export async function forceDown(state: EngineState, record: ContainerRecord): Promise<ContainerRecord | undefined> {
  tellMonitor(state, record);
  return killHard(state, record);
}

/** Sends a signal (default SIGKILL) to a running container's first process. */
export async function killContainer(state: EngineState, nameOrId: string, signalText = 'SIGKILL'): Promise<ContainerRecord> {
  const signal = parseSignal(signalText);
  const record = await currentContainer(state, nameOrId);
  if (!isUp(record)) {
    throw new EngineError('CONFLICT', `cannot kill container: ${nameOrId}: container ${record.id} is not running`);
  }
  state.explainer.step({ topic: 'process', say: `send ${signal.name} to the container's first process`, call: `kill(${record.pid}, ${signal.name})` });
  if (signal.name === 'SIGKILL') {
    if (hasMonitor(state, record.id) && intentOf(record).restart === undefined) requestMonitorStop(runDirOf(state, record.id));
    await createCgroupManager({ name: record.id, explainer: state.explainer }).kill().catch(() => undefined);
  }
  signalPid(record.pid, signal.number);
  return record;
}

/** Resolves with the container's exit code once it is no longer running (at once when it is not). */
export async function waitContainer(state: EngineState, nameOrId: string, options: { signal?: AbortSignal } = {}): Promise<number> {
  const record = await currentContainer(state, nameOrId);
  for (let current: ContainerRecord | undefined = record; ; ) {
    if (current === undefined) throw new EngineError('NOT_FOUND', `No such container: ${nameOrId}`);
    if (!isUp(current)) return current.exitCode ?? 0;
    if (options.signal?.aborted === true) throw new EngineError('UNAVAILABLE', `wait for container ${shortId(record.id)}: aborted`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const row = containers.getContainer(state.db(), record.id);
    current = row === undefined ? undefined : await reconcileContainer(state, row);
  }
}
