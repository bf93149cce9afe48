/**
 * `exec`: a new process inside a running container, the way the container's
 * own first process was made, but by joining instead of creating:
 *
 *   name or id prefix -> the row; it must be running, its pid alive
 *   config.json (the OCI spec written by run) -> user, caps, rlimits, env,
 *     cwd, no_new_privs, seccomp; -u resolved against the container's
 *     /etc/passwd and /etc/group (read from inside it by the join helper),
 *     -e merged over the env, -w replaces the cwd
 *   /proc/<pid>/ns/* that differ from ours -> JOIN_NS records, user first
 *   /proc/<pid>/cgroup -> the cgroup.procs files the helper's pid is written
 *     into before it reads its plan (its child inherits them)
 *   didactic-join (native/join): setns each, fork, identity, execve; the
 *     command's exit status comes back (127/126 in Docker's words)
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, type Explainer } from '../common/index.js';
import { containers, type ContainerRecord, type Database } from '../db/index.js';
import { CLONE_FLAGS, detectCgroupLayout, encodeLaunchPlan, planLaunch, type LaunchPlan } from '../runtime/index.js';
import { expandEnvFlag, maskToCaps, mergeEnv, resolveUser, type LinuxNamespaceType, type Spec } from '../spec/index.js';
import { TarReader, type TarHeader } from '../snapshot/index.js';
import { execFailureStatus, launchFailureOf, startJoined, type JoinMode } from '../sys/index.js';
import { boundingCapabilityMask, bundlePaths } from './container-fs.js';
import { describeSeccompFilter, seccompCacheDir, seccompFilterFor } from './seccomp-cache.js';
import type { EngineState } from './state.js';
import type { ExecRequest, ExecResult } from './types.js';

/** The namespaces exec joins, in order: user first (it decides what the others allow), mount late (it hides /proc). */
const NAMESPACES: readonly [file: string, type: LinuxNamespaceType][] = [
  ['user', 'user'], ['ipc', 'ipc'], ['uts', 'uts'], ['net', 'network'], ['pid', 'pid'], ['mnt', 'mount'], ['cgroup', 'cgroup'],
];

/**
 * A container by exact name, full id or unique id prefix (Docker's order).
 * Kept here rather than shared while the lifecycle verbs' resolver settles.
 */
export function findContainer(db: Database, nameOrId: string, what: string): ContainerRecord {
  const name = nameOrId.replace(/^\//, '');
  const byName = containers.getContainerByName(db, name) ?? containers.getContainer(db, name);
  if (byName !== undefined) return byName;
  const matches = /^[0-9a-f]+$/.test(name) ? containers.listContainers(db).filter((c) => c.id.startsWith(name)) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new EngineError('INVALID_ARGUMENT', `${what}: multiple IDs found with provided prefix: ${name}`);
  throw new EngineError('NOT_FOUND', `No such container: ${nameOrId}`);
}

/** The pid of a running container's first process, alive; a clear error otherwise. */
export function runningPid(record: ContainerRecord, what: string): number {
  if (record.state === 'paused') {
    throw new EngineError('CONFLICT', `${what}: container ${record.id} is paused, unpause the container before exec`);
  }
  const pid = record.pid;
  if (record.state !== 'running' || pid === null || !fs.existsSync(`/proc/${pid}/ns/mnt`)) {
    throw new EngineError('FAILED_PRECONDITION', `${what}: container ${record.id} is not running`, { hint: `start it first: start ${record.name}` });
  }
  return pid;
}

export function readSpec(state: EngineState, record: ContainerRecord, what: string): Spec {
  const file = bundlePaths(state.paths.containers, record.id).config;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Spec;
  } catch (cause) {
    throw new EngineError('FAILED_PRECONDITION', `${what}: read the container's OCI spec ${file}`, { cause });
  }
}

function nsIdentity(file: string): string | undefined {
  try {
    const stat = fs.statSync(file);
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return undefined;
  }
}

/** The container's namespaces that are not already ours, as JOIN_NS records (of `only` when given). */
export function namespacesToJoin(pid: number, only?: readonly string[]): LaunchPlan['joinNamespaces'] {
  const joins: LaunchPlan['joinNamespaces'] = [];
  for (const [file, type] of NAMESPACES) {
    if (only !== undefined && !only.includes(file)) continue;
    const theirs = `/proc/${pid}/ns/${file}`;
    const id = nsIdentity(theirs);
    if (id === undefined || id === nsIdentity(`/proc/self/ns/${file}`)) continue;
    joins.push({ type, flag: CLONE_FLAGS[type], path: theirs });
  }
  return joins;
}

function cgroupLines(file: string): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match !== null) out.set(match[1]!, match[2]!);
  }
  return out;
}

/** The cgroup.procs files of the container's cgroups that differ from ours. */
export function cgroupProcsFiles(pid: number): string[] {
  const layout = detectCgroupLayout();
  const ours = cgroupLines('/proc/self/cgroup');
  const files: string[] = [];
  for (const [controllers, group] of cgroupLines(`/proc/${pid}/cgroup`)) {
    if (ours.get(controllers) === group) continue;
    const mount = controllers === '' ? layout.unifiedMount : layout.v1Mounts[controllers.split(',')[0]!];
    if (mount === undefined) continue;
    files.push(path.join(mount, group, 'cgroup.procs'));
  }
  return files;
}

/** Writes pid into each cgroup.procs file (what onSpawn does for exec). */
export function joinCgroups(files: readonly string[], pid: number, explainer: Explainer, what: string): void {
  for (const file of files) {
    explainer.step({ topic: 'cgroup', say: `put the joining process into the container's cgroup`, call: `write ${file} = ${pid}` });
    try {
      fs.writeFileSync(file, `${pid}\n`);
    } catch (cause) {
      throw new EngineError('FAILED_PRECONDITION', `${what}: join the cgroup ${path.dirname(file)}`, { cause });
    }
  }
}

/** A plan that only joins namespaces (as root, keeping the engine's capabilities), for the tar modes. */
export function copyPlan(joinNamespaces: LaunchPlan['joinNamespaces'], args: string[]): Buffer {
  return encodeLaunchPlan({
    cloneFlags: 0, joinNamespaces, rootfs: '/', rootfsReadonly: false, rootfsPropagation: 0, mounts: [], devices: [], links: [],
    maskedPaths: [], readonlyPaths: [], sysctls: [], uid: 0, gid: 0, additionalGids: [], umask: 0o022, noNewPrivileges: false,
    rlimits: [], cwd: '/', args, env: [],
  });
}

const MAX_LINKS = 16;

/**
 * The text of a regular file as the container sees it (its mount namespace,
 * its symlinks, its volumes), read by the join helper from inside; undefined
 * when it does not exist or is not a regular file.
 */
export async function readContainerFile(state: EngineState, pid: number, inside: string, what: string): Promise<string | undefined> {
  const namespaces = namespacesToJoin(pid, ['user', 'mnt']);
  let file = inside;
  for (let links = 0; links <= MAX_LINKS; links++) {
    const joined = await startJoined(copyPlan(namespaces, [file, 'file']), { mode: 'tar-create', stdio: ['ignore', 'pipe', 'ignore'], explainer: state.explainer, what });
    let header: TarHeader | undefined;
    const chunks: Buffer[] = [];
    const reader = new TarReader({ entry: (h) => void (header ??= h), data: (chunk) => void chunks.push(Buffer.from(chunk)), end() {} }, `${what}: ${file}`);
    for await (const chunk of joined.stdout!) reader.push(chunk as Buffer);
    const failure = await joined.failure;
    if (failure !== undefined) {
      const errno = launchFailureOf(failure)?.errnoName;
      if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined;
      throw failure;
    }
    reader.finish();
    if (header?.kind === 'symlink') {
      file = path.posix.resolve(path.posix.dirname(file), header.linkname);
      continue;
    }
    return header?.kind === 'file' ? Buffer.concat(chunks).toString('utf8') : undefined;
  }
  throw new EngineError('INVALID_ARGUMENT', `${what}: ${inside}: too many levels of symbolic links`);
}

/** The join plan of an exec: the container's process settings with the request's changes. */
async function planExec(state: EngineState, record: ContainerRecord, spec: Spec, pid: number, request: ExecRequest): Promise<LaunchPlan> {
  const what = `exec in ${record.name}`;
  const proc = { ...spec.process, args: request.command, user: { ...spec.process.user } };
  if (request.user !== undefined && request.user !== '') {
    // Read from inside the container, so that no symlink it holds can point the engine at a host file.
    const files = { passwd: await readContainerFile(state, pid, '/etc/passwd', what), group: await readContainerFile(state, pid, '/etc/group', what) };
    const user = resolveUser(request.user, files);
    proc.user = { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, ...(spec.process.user.umask === undefined ? {} : { umask: spec.process.user.umask }) };
  }
  const extra = (request.env ?? []).map((entry) => expandEnvFlag(entry, request.hostEnv ?? process.env)).filter((e): e is string => e !== undefined);
  // -t: TERM=xterm as Docker sets it for a terminal, unless the container or -e says otherwise.
  const term = request.tty === true && !(spec.process.env ?? []).some((entry) => entry.startsWith('TERM=')) ? ['TERM=xterm'] : [];
  proc.env = mergeEnv(spec.process.env ?? [], [...term, ...extra]);
  if (request.workdir !== undefined && request.workdir !== '') {
    if (!request.workdir.startsWith('/')) throw new EngineError('INVALID_ARGUMENT', `${what}: the working directory ${JSON.stringify(request.workdir)} is not absolute`);
    proc.cwd = request.workdir;
  }
  if (request.privileged === true) {
    const names = maskToCaps(boundingCapabilityMask() ?? (1n << 41n) - 1n);
    proc.capabilities = { bounding: names, effective: names, permitted: names };
  }
  let seccompFilter: Buffer | undefined;
  if (spec.linux?.seccomp !== undefined) {
    const filter = seccompFilterFor(spec.linux.seccomp, seccompCacheDir(state.paths.runRoot));
    seccompFilter = filter.program;
    state.explainer.step({ topic: 'security', say: `${describeSeccompFilter(filter)}, for the exec'd process` });
  }
  // planLaunch checks and converts the process part; the namespace, mount and path parts are replaced.
  const base = planLaunch(
    { process: proc, mounts: [], linux: { namespaces: [{ type: 'mount' }] } },
    { rootfs: '/', ...(seccompFilter === undefined ? {} : { seccompFilter }) },
  );
  const { hostname: _hostname, ...rest } = base;
  return { ...rest, cloneFlags: 0, joinNamespaces: namespacesToJoin(pid), rootfs: '/', mounts: [], devices: [], links: [], maskedPaths: [], readonlyPaths: [], sysctls: [] };
}

/** Runs a command in a running container; resolves with its exit status (127/126 when it cannot be run). */
export async function execInContainer(state: EngineState, request: ExecRequest): Promise<ExecResult> {
  if (request.command.length === 0) throw new EngineError('INVALID_ARGUMENT', 'exec: no command given');
  const record = findContainer(state.db(), request.container, `exec in ${request.container}`);
  const what = `exec in ${record.name}`;
  const pid = runningPid(record, what);
  const spec = readSpec(state, record, what);
  const plan = await planExec(state, record, spec, pid, request);
  const cgroups = cgroupProcsFiles(pid);
  const mode: JoinMode = request.detach === true ? 'exec-detach' : 'exec';
  const stdio = request.detach === true ? (['ignore', 'ignore', 'ignore'] as const) : (request.stdio ?? ['inherit', 'inherit', 'inherit']);
  let joined;
  try {
    joined = await startJoined(encodeLaunchPlan(plan), {
      mode,
      stdio: [...stdio],
      terminal: request.tty === true,
      explainer: state.explainer,
      what,
      onSpawn: (helper) => joinCgroups(cgroups, helper, state.explainer, what),
    });
  } catch (error) {
    // Docker: 127 when the command is not found; 126 for any other failure of the process after the join (chdir, setresuid, ...).
    const step = launchFailureOf(error)?.step;
    const status = execFailureStatus(error) ?? (step !== undefined && step !== 'plan' && step !== 'setns' && step !== 'fork' ? 126 : undefined);
    if (status !== undefined && error instanceof EngineError) return { id: record.id, pid: 0, exitCode: status, error };
    throw error;
  }
  const unsubscribe = request.detach === true ? undefined : request.forwardSignals?.((signal) => joined.kill(signal));
  try {
    const { status } = await joined.exited;
    return { id: record.id, pid: joined.pid, exitCode: request.detach === true ? 0 : status };
  } finally {
    unsubscribe?.();
  }
}
