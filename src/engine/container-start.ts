/**
 * `start`: a created or exited container is started detached, under its
 * own monitor, from what its bundle already holds (config.json, the
 * generated /etc files, the upper dir with whatever the container wrote):
 *
 *   row created/exited -> start lock in the run dir (one starter at a time)
 *   rootfs mounted again (overlay of the image's layers + upper)
 *   cgroup created with config.json's linux.resources
 *   didactic-launcher --detach: monitor, PID -> cgroup + network -> GO
 *   row running (pid, startedAt); the CLI may exit, the monitor stays
 *
 * A failure on the way releases what was set up; the row keeps its state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, shortId } from '../common/index.js';
import { containers, type ContainerRecord } from '../db/index.js';
import { createCgroupManager, createContainerCgroup, detectCgroupLayout, encodeLaunchPlan, planLaunch, type CgroupManagerWithParent } from '../runtime/index.js';
import type { Spec } from '../spec/index.js';
import { seccompCacheDir, seccompFilterFor } from './seccomp-cache.js';
import { checkRestartPolicy, execFailureStatus, isMonitorAlive, readMonitorPid, requestMonitorStop, startDetached } from '../sys/index.js';
import { mountRootfs, mountsBelow } from './container-fs.js';
import { publishedPorts } from './container-options.js';
import { takeStartLock } from './container-lock.js';
import { bundleOf, logPathOf, releaseContainer, runDirOf } from './container-reconcile.js';
import { connectContainer, planRunNetwork } from './network.js';
import { resolveImage } from './resolve-image.js';
import type { EngineState } from './state.js';

/** What of a container's stored intent (its run request as JSON) start needs. */
export interface StoredIntent {
  image?: string;
  command?: string[];
  entrypoint?: string;
  user?: string;
  network?: string;
  publish?: string[];
  publishAll?: boolean;
  addHost?: string[];
  networkAlias?: string[];
  restart?: string;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  runtime?: string;
  readOnly?: boolean;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  stopSignal?: string;
  stopTimeout?: number;
}

export function intentOf(record: ContainerRecord): StoredIntent {
  try {
    const parsed = JSON.parse(record.config) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as StoredIntent) : {};
  } catch {
    return {};
  }
}

const BUILT_IN_RUNTIMES = new Set(['', 'didactic', 'didactic-container', 'builtin']);

/** The OCI spec of a container, from its bundle's config.json. */
export function readSpec(state: EngineState, id: string): Spec | undefined {
  try {
    return JSON.parse(fs.readFileSync(bundleOf(state, id).config, 'utf8')) as Spec;
  } catch {
    return undefined;
  }
}

/** Starts a container that is not running; a running one is left as it is. Returns the updated row. */
export async function startDetachedContainer(state: EngineState, record: ContainerRecord): Promise<ContainerRecord> {
  if (record.state === 'running' || record.state === 'paused') return record;
  if (!['created', 'exited', 'stopped'].includes(record.state)) {
    throw new EngineError('FAILED_PRECONDITION', `start container ${shortId(record.id)}: it is ${record.state}`);
  }
  const id = record.id;
  const intent = intentOf(record);
  if (!BUILT_IN_RUNTIMES.has(intent.runtime ?? '')) {
    throw new EngineError('NOT_IMPLEMENTED', `start container ${shortId(id)}: detached containers run only with the built-in runtime, not ${intent.runtime}`);
  }
  const spec = readSpec(state, id);
  if (spec === undefined) throw new EngineError('FAILED_PRECONDITION', `start container ${shortId(id)}: its bundle has no config.json`, { hint: 'remove it and create it again' });
  const runDir = runDirOf(state, id);
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const unlock = takeStartLock(runDir, id);
  let cgroup: CgroupManagerWithParent | undefined;
  let monitorPid: number | undefined;
  try {
    const explainer = state.explainer;
    const db = state.db();
    const bundle = bundleOf(state, id);
    const restart = checkRestartPolicy(intent.restart ?? 'no');
    const image = resolveImage(db, record.imageId ?? record.imageRef);
    const publish = publishedPorts({ publish: intent.publish, publishAll: intent.publishAll }, image.config);
    const netPlan = planRunNetwork(state, { network: intent.network, publish, addHosts: intent.addHost, aliases: intent.networkAlias });
    const launchSpec = netPlan.mode === 'container' ? withSharedNetwork(state, spec, intent.network ?? '') : spec;
    if (mountsBelow(bundle.rootfs).length === 0) {
      const lowerDirs = image.layers.map((chainId) => state.layers().layerDir(chainId as `sha256:${string}`)).reverse();
      mountRootfs(bundle, lowerDirs, explainer);
    }
    const layout = detectCgroupLayout();
    cgroup = createCgroupManager({ name: id, explainer, layout });
    await createContainerCgroup(cgroup, spec.linux.resources);
    const seccompFilter = launchSpec.linux.seccomp === undefined ? undefined : seccompFilterFor(launchSpec.linux.seccomp, seccompCacheDir(state.paths.runRoot)).program;
    const plan = encodeLaunchPlan(planLaunch(launchSpec, { rootfs: bundle.rootfs, cgroupLayout: layout, ...(seccompFilter === undefined ? {} : { seccompFilter }) }));
    const group = cgroup;
    const started = await startDetached(plan, {
      bundleDir: bundle.dir,
      runDir,
      logPath: logPathOf(state, id),
      restart,
      keepStdin: intent.interactive === true,
      terminal: spec.process.terminal === true,
      explainer,
      cgroupProcs: group.directories().map((dir) => path.join(dir, 'cgroup.procs')),
      onPid: async (pid) => {
        await group.apply(pid);
        await connectContainer(state, netPlan, { containerId: id, containerName: record.name, pid, hostsFile: bundle.hosts });
      },
    });
    monitorPid = started.monitorPid;
    return containers.setState(db, id, {
      to: 'running',
      from: ['created', 'exited', 'stopped'],
      pid: started.pid,
      exitCode: null,
      error: null,
      oomKilled: false,
      startedAt: new Date().toISOString(),
      finishedAt: null,
    });
  } catch (error) {
    // Not started (or the row changed under us, e.g. it is being removed): undo everything of this start.
    if (monitorPid !== undefined) requestMonitorStop(runDir, monitorPid);
    const monitor = readMonitorPid(runDir);
    if (monitorPid !== undefined || monitor === undefined || !isMonitorAlive(monitor, runDir)) {
      await releaseContainer(state, id).catch(() => undefined);
    }
    const status = execFailureStatus(error);
    if (status !== undefined && record.state === 'created') {
      try {
        containers.setState(state.db(), id, { to: 'exited', from: ['created'], exitCode: status, error: error instanceof Error ? error.message : String(error), finishedAt: new Date().toISOString() });
      } catch {
        // Someone else moved it meanwhile; the error below still stands.
      }
    }
    throw error;
  } finally {
    unlock();
  }
}


/** --network container:NAME: the other container's namespace now (its pid may differ from the one at create). */
function withSharedNetwork(state: EngineState, spec: Spec, network: string): Spec {
  const target = network.slice('container:'.length);
  const found = containers.findContainer(state.db(), target);
  if (found === undefined) throw new EngineError('NOT_FOUND', `start: --network ${network}: No such container: ${target}`);
  if (found.state !== 'running' || found.pid === null) {
    throw new EngineError('FAILED_PRECONDITION', `start: --network ${network}: container ${found.name} is not running`);
  }
  const netns = `/proc/${found.pid}/ns/net`;
  const namespaces = spec.linux.namespaces.map((namespace) => (namespace.type === 'network' ? { type: namespace.type, path: netns } : namespace));
  return { ...spec, linux: { ...spec.linux, namespaces } };
}
