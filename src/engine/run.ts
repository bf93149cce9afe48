/**
 * `run` in the foreground: the glue between the planners and the executors.
 *
 *   flags -> RunOptions (spec parsers)          image -> its layer dirs
 *   network flags checked (unknown network, plugins, -p) -> a network plan
 *   row 'created' in SQLite (name unique)
 *   bundle: upper/ work/ rootfs/; overlay mounted at rootfs/
 *   /etc/passwd, /etc/group read from the merged rootfs -> user
 *   planSpec -> config.json (the OCI contract); hosts, hostname, resolv.conf
 *   built-in runtime: cgroup created, planLaunch -> the C launcher; the
 *     container's pid goes into its cgroup and onto its network (CNI ADD)
 *     before it is told GO
 *   or --runtime X: `X run --bundle <dir> <id>` over the same bundle; its
 *     start hook hands the pid over for the network the same way
 *   row 'running' -> wait -> OOM? -> row 'exited'
 *   cleanup: cgroup removed, networks left (CNI DEL), rootfs unmounted;
 *     --rm: bundle and row removed
 *
 * Whatever fails after the row exists is cleaned up the same way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineError, newContainerId, randomName, shortId, type Explainer } from '../common/index.js';
import { containers, type Database } from '../db/index.js';
import { createCgroupManager, createContainerCgroup, DEFAULT_CGROUP_PARENT, detectCgroupLayout, encodeLaunchPlan, planLaunch, type CgroupLayout, type CgroupManagerWithParent } from '../runtime/index.js';
import { maskToCaps, planSpec, type ImageRunConfig, type PlanContext, type Spec } from '../spec/index.js';
import { execFailureStatus, prepareLaunch, type LaunchedContainer, type PendingLaunch } from '../sys/index.js';
import {
  boundingCapabilityMask,
  bundlePaths,
  createBundleDirs,
  ensureRootfsDir,
  hostHostname,
  mountRootfs,
  nofileHardLimit,
  readRootfsFile,
  removeBundle,
  removeEmptyCgroups,
  unmountBelow,
  unmountBelowAsync,
  writeEtcFiles,
  type BundlePaths,
} from './container-fs.js';
import { networkFlagsOf, parseDnsServers, publishedPorts, requestedOptions } from './container-options.js';
import { cleanupSteps, releaseCgroup } from './cleanup-steps.js';
import { createOciRuntime, startHook } from './container-runtime.js';
import { connectContainer, detachNetworks, pinContainerNetns, planRunNetwork, refreshContainerHosts } from './network.js';
import { resolveImage } from './resolve-image.js';
import { describeSeccompFilter, seccompCacheDir, seccompFilterFor } from './seccomp-cache.js';
import { mergeRunMounts, parseRunMounts, prepareRunMounts, releaseContainerVolumes } from './volumes.js';
import type { EngineState } from './state.js';
import type { RunRequest, RunResult } from './types.js';

/** The runtime names that mean the built-in launcher. */
const BUILT_IN_RUNTIMES = new Set(['', 'didactic', 'didactic-container', 'builtin']);

interface Started {
  pid: number;
  exited: Promise<{ status: number }>;
  kill(signal: NodeJS.Signals): void;
}

/** createOnly (`create`, `run -d`): stop once the bundle and config.json are ready; the row stays 'created' and nothing runs. */
export interface RunMode {
  createOnly?: boolean;
}

export async function runContainer(state: EngineState, request: RunRequest, mode: RunMode = {}): Promise<RunResult> {
  const explainer = state.explainer;
  const requested = requestedOptions(request);
  const volumeFlags = parseRunMounts(request);
  const db = state.db();
  const image = resolveImage(db, request.image);
  const imageConfig = imageRunConfig(image.config);
  const lowerDirs = image.layers.map((chainId) => state.layers().layerDir(chainId as `sha256:${string}`)).reverse();
  for (const dir of lowerDirs) {
    if (!fs.existsSync(dir)) {
      throw new EngineError('FAILED_PRECONDITION', `run ${request.image}: layer directory ${dir} is missing`, { hint: 'pull the image again, or run check' });
    }
  }

  // Network flags fail fast, before anything exists (the default bridge network is defined on first use).
  const networkFlags = networkFlagsOf(request);
  const netPlan = planRunNetwork(state, { network: requested.network, publish: publishedPorts(networkFlags, image.config), addHosts: networkFlags.addHost, aliases: networkFlags.networkAlias });
  netPlan.warnings.forEach((warning) => request.onWarning?.(warning));
  const shared = netPlan.mode === 'container' ? sharedNetworkOf(db, state.paths.containers, requested.network ?? '') : undefined;

  const id = newContainerId();
  const name = insertRow(db, id, request, image.id);
  const bundle = bundlePaths(state.paths.containers, id);
  const runtime = request.runtime ?? '';
  const builtIn = BUILT_IN_RUNTIMES.has(runtime);
  let cgroup: CgroupManagerWithParent | undefined;
  let started: Started | undefined;
  let deleteFromRuntime: (() => Promise<void>) | undefined;
  // --rm: the container's anonymous volumes go with it.
  const releaseVolumes = () => void releaseContainerVolumes(state, id, { removeAnonymous: true });
  let runtimeFailure: (() => EngineError | undefined) | undefined;
  // Only CNI networks leave something to undo (none, host and container:X join no network).
  const detach = netPlan.mode === 'cni' ? () => detachNetworks(state, id) : async () => undefined;
  const pending: NodeJS.Signals[] = [];
  const unsubscribe = request.forwardSignals?.((signal) => {
    if (started !== undefined) started.kill(signal);
    else pending.push(signal);
  });

  const stdio = request.stdio ?? [request.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'];
  const layout = detectCgroupLayout();
  // The built-in runtime's launcher starts before the planning below: its helper
  // joins the container's (still empty) cgroup while this process plans.
  let early: Promise<PendingLaunch> | undefined;
  // A new network namespace (none or a CNI network) under the built-in runtime: the launcher brings lo up itself (no loopback plugin process).
  const loopbackUp = builtIn && (netPlan.mode === 'none' || netPlan.mode === 'cni') && mode.createOnly !== true;
  const connect = (pid: number) => connectContainer(state, netPlan, { containerId: id, containerName: name, pid, hostsFile: bundle.hosts }, { loopbackUp }).then(() => undefined);
  // With a CNI network the plugins attach the namespace the launcher's helper made while this process plans.
  let attached: Promise<void> | undefined;
  let pinned: Promise<unknown> | undefined;
  try {
    if (builtIn && mode.createOnly !== true) {
      cgroup = createCgroupManager({ name: id, explainer, layout });
      await createContainerCgroup(cgroup);
      const newNetns = loopbackUp && shared === undefined;
      early = prepareLaunch({ stdio, terminal: request.tty === true, explainer, joinCgroup: cgroup.procsFiles(), newNetns });
      early.catch(() => undefined); // awaited below, or aborted in the catch
      if (newNetns && netPlan.mode === 'cni') {
        // Pinned at once, and before the plan goes out: the helper holding the
        // namespace exits once it has cloned the container.
        const holder = early.then((launcher) => launcher.netnsHolder());
        pinned = holder.then((pid) => pinContainerNetns(state, id, pid));
        attached = Promise.all([holder, pinned]).then(([pid]) => connect(pid));
        pinned.catch(() => undefined); // awaited before the launch
        attached.catch(() => undefined); // awaited in onPid, or before the clean-up
      }
    }
    createBundleDirs(bundle, explainer);
    mountRootfs(bundle, lowerDirs, explainer);
    await turnOfTheLoop(); // the helper's NET line, if it is there: the network plugins start now
    // container:NAME: planned as a private namespace, then pointed at the other container's.
    const planned = { ...requested, ...(shared === undefined ? {} : { network: 'none', ...(shared.hostname === undefined ? {} : { hostname: shared.hostname }) }), containerId: id, name, imageConfig, rootfsPath: bundle.rootfs };
    const plannedSpec = planContainer(bundle, planned, layout, request, shared);
    await turnOfTheLoop();
    // Volumes after the spec is known to be valid: made, filled from the image, recorded, merged into its mounts.
    const volumeMounts = prepareRunMounts(state, { containerId: id, rootfs: bundle.rootfs, imageConfig, parsed: volumeFlags });
    const withVolumes = mergeRunMounts(plannedSpec, volumeMounts, { privileged: requested.privileged === true });
    const spec = joinNetworkNamespace(withVolumes, shared?.netns, explainer);
    ensureRootfsDir(bundle.rootfs, spec.process.cwd, explainer);
    writeEtcFiles(bundle, { hostname: spec.hostname ?? shortId(id), network: planned.network ?? 'bridge', dns: parseDnsServers(networkFlags.dns) }, explainer);
    writeConfig(bundle, builtIn ? spec : { ...spec, hooks: startHook(bundle, process.pid) }, explainer);
    if (mode.createOnly === true) {
      // Prepared, not started: `start` mounts the root again and launches it under its monitor.
      unmountBelow(bundle.rootfs, explainer);
      return { id, name, exitCode: 0, oomKilled: false };
    }

    if (builtIn && cgroup !== undefined && early !== undefined) {
      if ((spec.process.terminal === true) !== (request.tty === true)) throw new EngineError('INTERNAL', `run: the spec's terminal differs from -t`);
      // Every limit but pids now; pids.max once the helper is gone (it and the first process count together until then).
      const { pids, ...resources } = spec.linux.resources ?? {};
      const report = await cgroup.set(resources);
      for (const warning of report.warnings) request.onWarning?.(warning);
      const filter = spec.linux.seccomp === undefined ? undefined : seccompFilterFor(spec.linux.seccomp, seccompCacheDir(state.paths.runRoot));
      if (filter !== undefined) explainer.step({ topic: 'security', say: `${describeSeccompFilter(filter)}, for the launcher to install` });
      const seccompFilter = filter?.program;
      const plan = planLaunch(spec, { rootfs: bundle.rootfs, cgroupLayout: layout, loopbackUp, ...(seccompFilter === undefined ? {} : { seccompFilter }) });
      const group = cgroup;
      const launcher = await early;
      await pinned;
      early = undefined;
      const attaching = attached;
      const launched: LaunchedContainer = await launcher.launch(encodeLaunchPlan(plan), async (pid) => {
        // Born in its cgroup (the helper had joined it): the pids limit, and the network unless it is attached already.
        if (pids !== undefined) await group.set({ pids });
        if (attaching === undefined) return connect(pid);
        await attaching;
        // Its plugins may have finished before the hosts file above was written.
        refreshContainerHosts(state, { containerId: id, containerName: name, hostsFile: bundle.hosts });
      });
      started = { pid: launched.pid, exited: launched.exited, kill: (signal) => launched.kill(signal) };
    } else {
      // The runtime makes the group at the same path (linux.cgroupsPath); the manager only reads and removes it.
      cgroup = createCgroupManager({ name: id, explainer, layout });
      const oci = createOciRuntime(runtime, state.paths.runRoot, explainer);
      deleteFromRuntime = () => oci.delete(id);
      runtimeFailure = () => oci.startFailure(bundle);
      const child = await oci.run(bundle, id, stdio, { onPid: connect });
      started = { pid: child.containerPid ?? child.pid, exited: child.exited, kill: (signal) => child.kill(signal) };
    }
    containers.setState(db, id, { to: 'running', from: ['created'], pid: started.pid, startedAt: new Date().toISOString() });
    for (const signal of pending.splice(0)) started.kill(signal);

    const { status } = await started.exited;
    // An OCI runtime exits non-zero also when it could not start the command: its log tells which.
    const failedStart = status === 0 ? undefined : runtimeFailure?.();
    if (failedStart !== undefined) throw failedStart;
    const oomKilled = cgroup === undefined ? false : await cgroup.oomKilled().catch(() => false);
    explainer.step({ topic: 'process', say: `the container's first process ended with status ${status}${oomKilled ? ' (killed by the OOM killer)' : ''}` });
    containers.setState(db, id, { to: 'exited', from: ['running'], pid: null, exitCode: status, oomKilled, finishedAt: new Date().toISOString() });
    await cleanUp(db, id, bundle, { cgroup, deleteFromRuntime, detachNetworks: detach, releaseVolumes, sweepCgroups: !builtIn }, request.rm === true, explainer).catch((error: unknown) => {
      // The container ran and ended: its status stands; the leftover is recorded on the row (state dead).
      request.onWarning?.(error instanceof Error ? error.message : String(error));
    });
    return { id, name, exitCode: status, oomKilled };
  } catch (error) {
    // Planning failed after the launcher started: it gets no plan and ends (its helper leaves the cgroup by exiting).
    if (early !== undefined) await early.then((launcher) => launcher.abort()).catch(() => undefined);
    // An attach still under way finishes (or fails) before DEL undoes it.
    await attached?.catch(() => undefined);
    const status = execFailureStatus(error) ?? 125;
    const message = error instanceof Error ? error.message : String(error);
    try {
      containers.setState(db, id, { to: 'exited', pid: null, exitCode: status, error: message, finishedAt: new Date().toISOString() });
    } catch {
      // The row may be gone or already final; the cleanup below still runs.
    }
    await cleanUp(db, id, bundle, { cgroup, deleteFromRuntime, detachNetworks: detach, releaseVolumes, sweepCgroups: !builtIn }, request.rm === true, explainer).catch((cleanupError: unknown) => {
      request.onWarning?.(cleanupError instanceof Error ? cleanupError.message : String(cleanupError));
    });
    if (status !== 125 && error instanceof EngineError) return { id, name, exitCode: status, oomKilled: false, error };
    throw error;
  } finally {
    unsubscribe?.();
  }
}

/** Lets pending I/O callbacks run (a setImmediate turn), between synchronous planning steps. */
function turnOfTheLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}


/** The `config` object of an image's config JSON (Docker's defaults when absent). */
function imageRunConfig(configText: string): ImageRunConfig {
  try {
    const parsed = JSON.parse(configText) as { config?: ImageRunConfig | null };
    return parsed.config ?? {};
  } catch (cause) {
    throw new EngineError('INTEGRITY', 'run: the image config is not valid JSON', { cause });
  }
}

/** Inserts the container's row in state created; an unnamed container gets a fresh random name. */
function insertRow(db: Database, id: string, request: RunRequest, imageId: string): string {
  const intent = JSON.stringify(intentOf(request));
  for (let attempt = 0; ; attempt++) {
    const name = request.name ?? randomName();
    try {
      containers.createContainer(db, { id, name, imageId, imageRef: request.image, config: intent });
      return name;
    } catch (error) {
      if (request.name !== undefined || attempt >= 5 || !(error instanceof EngineError) || error.code !== 'CONFLICT') throw error;
    }
  }
}

/** What was asked, without the caller's functions and streams: the row's immutable config. */
function intentOf(request: RunRequest): Record<string, unknown> {
  const { hostEnv: _hostEnv, stdio: _stdio, forwardSignals: _forward, onWarning: _warn, ...intent } = request;
  return intent;
}

function planContainer(bundle: BundlePaths, options: Parameters<typeof planSpec>[0], layout: CgroupLayout, request: RunRequest, shared?: SharedNetwork): Spec {
  const mask = boundingCapabilityMask();
  const memoryMount = layout.v1Mounts['memory'];
  const context: PlanContext = {
    passwd: readRootfsFile(bundle.rootfs, '/etc/passwd'),
    group: readRootfsFile(bundle.rootfs, '/etc/group'),
    hostEnv: request.hostEnv ?? process.env,
    nofileHard: nofileHardLimit(),
    hostHostname: hostHostname(),
    hostCpus: os.availableParallelism(),
    kernel: os.release(),
    swapLimitSupported: layout.mode === 'v2' || (memoryMount !== undefined && fs.existsSync(path.join(memoryMount, 'memory.memsw.limit_in_bytes'))),
    warn: (message) => request.onWarning?.(message),
  };
  if (mask !== undefined) context.engineCaps = maskToCaps(mask);
  return planSpec(
    {
      ...options,
      networkFiles: [
        { source: shared?.hosts ?? bundle.hosts, destination: '/etc/hosts' },
        { source: bundle.hostname, destination: '/etc/hostname' },
        { source: shared?.resolvConf ?? bundle.resolvConf, destination: '/etc/resolv.conf' },
      ],
    },
    context,
  );
}

/** What `--network container:NAME` takes from NAME: its network namespace, /etc/hosts, resolv.conf and hostname (as Docker). */
interface SharedNetwork {
  /** /proc/<pid>/ns/net of its first process, joined by path. */
  netns: string;
  hosts: string | undefined;
  resolvConf: string | undefined;
  hostname: string | undefined;
}

function sharedNetworkOf(db: Database, containersDir: string, network: string): SharedNetwork {
  const target = network.slice('container:'.length);
  const found = containers.getContainerByName(db, target) ?? containers.getContainer(db, target);
  if (found === undefined) throw new EngineError('NOT_FOUND', `run --network ${network}: no such container: ${target}`);
  if (found.state !== 'running' || found.pid === null || !fs.existsSync(`/proc/${found.pid}/ns/net`)) {
    throw new EngineError('FAILED_PRECONDITION', `run --network ${network}: container ${found.name} is not running`, { hint: 'start it first' });
  }
  const theirs = bundlePaths(containersDir, found.id);
  const existing = (file: string) => (fs.existsSync(file) ? file : undefined);
  let hostname: string | undefined;
  try {
    hostname = fs.readFileSync(theirs.hostname, 'utf8').trim() || undefined;
  } catch {
    hostname = undefined;
  }
  return { netns: `/proc/${found.pid}/ns/net`, hosts: existing(theirs.hosts), resolvConf: existing(theirs.resolvConf), hostname };
}

/** Points the spec's network namespace at `netnsPath` (join instead of create); the spec unchanged without one. */
function joinNetworkNamespace(spec: Spec, netnsPath: string | undefined, explainer: Explainer): Spec {
  if (netnsPath === undefined) return spec;
  explainer.step({ topic: 'network', say: `share the network namespace of another container instead of making one`, call: `setns(open("${netnsPath}"), CLONE_NEWNET)` });
  const namespaces = spec.linux.namespaces.map((namespace) => (namespace.type === 'network' ? { type: namespace.type, path: netnsPath } : namespace));
  return { ...spec, linux: { ...spec.linux, namespaces } };
}

/** config.json with the root relative to the bundle, as OCI runtimes expect; written whole or not at all. */
function writeConfig(bundle: BundlePaths, spec: Spec & { hooks?: unknown }, explainer: Explainer): void {
  const text = `${JSON.stringify({ ...spec, root: { ...spec.root, path: path.relative(bundle.dir, bundle.rootfs) } }, null, 2)}\n`;
  const temp = `${bundle.config}.tmp`;
  fs.writeFileSync(temp, text, { mode: 0o600 });
  fs.renameSync(temp, bundle.config);
  explainer.step({ topic: 'state', say: 'write the OCI runtime spec of the container into its bundle', call: `write ${bundle.config} (${text.length} bytes)` });
}

/** Removes the cgroup and the mounts; with --rm also the bundle and the row. Every step is tried. */
async function cleanUp(
  db: Database,
  id: string,
  bundle: BundlePaths,
  owned: {
    cgroup: CgroupManagerWithParent | undefined;
    deleteFromRuntime: (() => Promise<void>) | undefined;
    detachNetworks: () => Promise<unknown>;
    releaseVolumes?: () => void;
    /** Look for the container's groups in every mounted hierarchy (an OCI runtime such as runc makes some the manager does not know). */
    sweepCgroups: boolean;
  },
  remove: boolean,
  explainer: Explainer,
): Promise<void> {
  const { cgroup, deleteFromRuntime } = owned;
  const steps = cleanupSteps();
  const { attempt, problems } = steps;
  if (deleteFromRuntime !== undefined) await attempt(deleteFromRuntime);
  // The root's detach runs on a worker thread, and CNI DEL (for every network the
  // container joined, also after a failed join: DEL is idempotent) in the plugins'
  // processes, while the cgroup and bundle steps run here.
  const unmounted = attempt(() => unmountBelowAsync(bundle.rootfs, explainer));
  const detached = attempt(owned.detachNetworks);
  if (cgroup !== undefined) await releaseCgroup(cgroup, steps);
  if (owned.sweepCgroups) await attempt(() => removeEmptyCgroups(DEFAULT_CGROUP_PARENT, id, explainer));
  await unmounted;
  // Before the bundle goes: DEL rewrites the hosts file in it.
  await detached;
  if (remove) {
    await attempt(() => {
      explainer.step({ topic: 'storage', say: `remove the container's bundle (--rm)`, call: `rm -rf ${bundle.dir}` });
      removeBundle(bundle);
    });
    // Before the row: its mount rows say which anonymous volumes were the container's own.
    if (owned.releaseVolumes !== undefined) await attempt(owned.releaseVolumes);
    await attempt(() => containers.deleteContainer(db, id));
  }
  if (problems.length > 0) {
    try {
      containers.setState(db, id, { to: 'dead', error: `clean up: ${problems.map((p) => (p instanceof Error ? p.message : String(p))).join('; ')}` });
    } catch {
      // Already removed or gone: nothing more to record.
    }
    throw new EngineError('INTERNAL', `clean up container ${shortId(id)}: ${problems.length} step(s) failed`, { cause: problems[0] });
  }
}
