/**
 * planSpec: run options + the image's config + facts about the machine ->
 * the OCI runtime spec (config.json) of a container, with Docker's
 * semantics and security defaults, validated. Pure: the caller reads files
 * (passwd, group, a seccomp profile) and probes the machine; nothing here
 * touches the kernel.
 */
import path from 'node:path';
import { EngineError, shortId } from '../common/index.js';
import { planCapabilities } from './caps.js';
import {
  ALL_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_NETWORK_SYSCTLS,
  DEFAULT_PATH,
  DEFAULT_READONLY_PATHS,
  DEFAULT_TERM,
  DEFAULT_UMASK,
  defaultDeviceRules,
  defaultMounts,
  defaultRlimits,
  privilegedDeviceRules,
} from './defaults.js';
import { envName, expandEnvFlag, type HostEnv, mergeEnv, parseEnvFile } from './env.js';
import {
  type BindMount,
  cpusToQuota,
  MIN_MEMORY,
  parseCpuset,
  parseSecurityOpts,
  type RunOptions,
} from './run-options.js';
import { defaultSeccompProfile } from './seccomp/default-profile.js';
import { hostSeccompArch } from './seccomp/compile.js';
import { parseProfile, resolveProfile } from './seccomp/profile.js';
import type { SeccompArch } from './seccomp/syscalls.js';
import type { LinuxDevice, LinuxNamespace, LinuxResources, LinuxSeccomp, Mount, Spec } from './types.js';
import { OCI_VERSION } from './types.js';
import { resolveUser } from './user.js';
import { validateSpec } from './validate.js';

/** Facts the planner needs from outside: files of the image, the host, the engine. */
export interface PlanContext {
  /** The text of the image's /etc/passwd and /etc/group; undefined when missing. */
  passwd?: string;
  group?: string;
  /** The caller's environment, for `-e NAME` without a value. */
  hostEnv?: HostEnv;
  /** The engine's own RLIMIT_NOFILE hard limit (the container cannot get more). */
  nofileHard: number;
  /** The host's hostname, used with --network host when no --hostname is given. */
  hostHostname?: string;
  /** The number of CPUs of the host, to check --cpus and --cpuset-cpus. */
  hostCpus?: number;
  /** The capabilities in the engine's bounding set; default all. */
  engineCaps?: readonly string[];
  /** Whether the memory cgroup limits swap (memory.memsw.* on v1, memory.swap.max on v2); default true. */
  swapLimitSupported?: boolean;
  /** The container's cgroup path; default /didactic-container/<id>. */
  cgroupsPath?: string;
  /** Host devices to create in a privileged container's /dev. */
  hostDevices?: readonly LinuxDevice[];
  /** The architecture for seccomp; default this machine's. */
  arch?: SeccompArch;
  /** The running kernel version, for the seccomp profile's minKernel. */
  kernel?: string;
  /** Called for options that are accepted but have no effect here. */
  warn?: (message: string) => void;
}

function invalid(message: string, hint?: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', message, hint === undefined ? {} : { hint });
}

/** Docker's Entrypoint/Cmd rules: the process's argv. */
export function planArgs(options: Pick<RunOptions, 'entrypoint' | 'command' | 'imageConfig'>): string[] {
  const image = options.imageConfig;
  const command = options.command ?? [];
  let entrypoint: string[];
  let cmd: string[];
  if (options.entrypoint === undefined) {
    entrypoint = image.Entrypoint ?? [];
    cmd = command.length > 0 ? command : (image.Cmd ?? []);
  } else if (options.entrypoint === '') {
    // Cleared entrypoint: the image's Cmd still applies unless a command is given.
    entrypoint = [];
    cmd = command.length > 0 ? command : (image.Cmd ?? []);
  } else {
    // A new entrypoint drops the image's Cmd: it was meant for the old one.
    entrypoint = [options.entrypoint];
    cmd = command;
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw invalid('create container: no command specified', 'give a command after the image or use --entrypoint');
  }
  return args;
}

/** The working directory: -w, else the image's, else /; must be absolute. */
export function planWorkdir(workdir: string | undefined, imageWorkdir: string | undefined): string {
  const dir = workdir || imageWorkdir || '/';
  if (!dir.startsWith('/')) {
    throw invalid(`the working directory '${dir}' is invalid, it needs to be an absolute path`);
  }
  const clean = path.posix.normalize(dir);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
}

const HOSTNAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/;

function planHostname(options: RunOptions, context: PlanContext, hostNetwork: boolean): string {
  if (options.hostname !== undefined && options.hostname !== '') {
    if (!HOSTNAME_RE.test(options.hostname) || options.hostname.length > 64) {
      throw invalid(`invalid hostname ${JSON.stringify(options.hostname)}`, 'letters, digits, dots and dashes, at most 64');
    }
    return options.hostname;
  }
  if (hostNetwork && context.hostHostname) return context.hostHostname;
  return shortId(options.containerId);
}

function planEnv(options: RunOptions, hostname: string, home: string, hostEnv: HostEnv): string[] {
  const base = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`];
  if (options.tty) base.push(`TERM=${DEFAULT_TERM}`);
  const user: string[] = [];
  for (const [index, text] of (options.envFiles ?? []).entries()) {
    user.push(...parseEnvFile(text, hostEnv, `env file ${index + 1}`));
  }
  for (const entry of options.env ?? []) {
    const expanded = expandEnvFlag(entry, hostEnv);
    if (expanded !== undefined) user.push(expanded);
  }
  const env = mergeEnv(mergeEnv(base, options.imageConfig.Env ?? []), user);
  if (!env.some((entry) => envName(entry) === 'HOME')) env.push(`HOME=${home}`);
  return env;
}

function planNamespaces(network: string): LinuxNamespace[] {
  if (network.startsWith('container:')) {
    throw new EngineError('NOT_IMPLEMENTED', `run: --network ${network} is not supported yet`);
  }
  const namespaces: LinuxNamespace[] = [{ type: 'pid' }];
  if (network !== 'host') namespaces.push({ type: 'network' });
  namespaces.push({ type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' });
  return namespaces;
}

function checkDestination(destination: string): string {
  if (!destination.startsWith('/')) throw invalid(`mount destination ${JSON.stringify(destination)} is not absolute`);
  const clean = path.posix.normalize(destination);
  if (clean.split('/').includes('..')) throw invalid(`mount destination ${JSON.stringify(destination)} leaves the root`);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
}

function bindMount(mount: BindMount, forceReadonly: boolean): Mount {
  if (!mount.source.startsWith('/')) throw invalid(`mount source ${JSON.stringify(mount.source)} is not absolute`);
  return {
    destination: checkDestination(mount.destination),
    type: 'bind',
    source: mount.source,
    options: ['rbind', 'rprivate', mount.readonly || forceReadonly ? 'ro' : 'rw'],
  };
}

/** Default mounts, then the caller's binds (parents before children); a bind replaces a default on the same path. */
function planMounts(options: RunOptions): Mount[] {
  const binds = [
    ...(options.networkFiles ?? []).map((m) => bindMount(m, options.readOnly === true)),
    ...(options.mounts ?? []).map((m) => bindMount(m, false)),
  ];
  const seen = new Set<string>();
  for (const bind of binds) {
    if (seen.has(bind.destination)) throw invalid(`duplicate mount point: ${bind.destination}`);
    seen.add(bind.destination);
  }
  const depth = (m: Mount): number => m.destination.split('/').filter(Boolean).length;
  const defaults = defaultMounts({ privileged: options.privileged === true }).filter((m) => !seen.has(m.destination));
  return [...defaults, ...binds.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m) - depth(b.m) || a.i - b.i).map((x) => x.m)];
}

function planResources(options: RunOptions, context: PlanContext): LinuxResources {
  const resources: LinuxResources = {
    devices: options.privileged ? privilegedDeviceRules() : defaultDeviceRules(),
  };
  const warn = context.warn ?? (() => {});
  const swapSupported = context.swapLimitSupported ?? true;

  const memory = options.memory ?? 0;
  const swap = options.memorySwap ?? 0;
  if (memory < 0) throw invalid(`invalid --memory ${memory}: negative`);
  if (memory > 0 && memory < MIN_MEMORY) throw invalid('invalid --memory: minimum memory limit allowed is 6MB');
  if (swap !== 0 && swap !== -1) {
    if (memory === 0) {
      throw invalid('you should always set the memory limit when using memoryswap limit', 'add -m/--memory');
    }
    if (swap < memory) {
      throw invalid('minimum memoryswap limit should be larger than memory limit, see usage', '--memory-swap counts memory plus swap');
    }
  } else if (swap === -1 && memory === 0) {
    throw invalid('you should always set the memory limit when using memoryswap limit', 'add -m/--memory');
  }
  if (memory > 0) {
    resources.memory = { limit: memory };
    if (swapSupported) {
      // Unset: as much swap as memory (Docker's default); -1: unlimited.
      resources.memory.swap = swap === 0 ? memory * 2 : swap;
    } else if (swap !== 0) {
      warn('your kernel does not support swap limit capabilities or the cgroup is not mounted; memory limited without swap');
    }
  }

  const hostCpus = context.hostCpus;
  if (options.cpus !== undefined && options.cpus !== 0) {
    if (!(options.cpus >= 0.01)) throw invalid(`invalid --cpus ${options.cpus}: the minimum is 0.01`);
    if (hostCpus !== undefined && options.cpus > hostCpus) {
      throw invalid(
        `range of CPUs is from 0.01 to ${hostCpus.toFixed(2)}, as there are only ${hostCpus} CPUs available`,
      );
    }
    resources.cpu = { ...cpusToQuota(options.cpus) };
  }
  if (options.cpuShares !== undefined && options.cpuShares !== 0) {
    if (options.cpuShares < 0) throw invalid(`invalid --cpu-shares ${options.cpuShares}: negative`);
    // The kernel takes 2..262144 and clamps; say what will be written.
    resources.cpu = { ...resources.cpu, shares: Math.min(262144, Math.max(2, options.cpuShares)) };
  }
  if (options.cpusetCpus !== undefined && options.cpusetCpus !== '') {
    const cpus = parseCpuset(options.cpusetCpus);
    if (hostCpus !== undefined && cpus.some((cpu) => cpu >= hostCpus)) {
      throw invalid(
        `requested CPUs are not available - requested ${options.cpusetCpus}, available: ${hostCpus === 1 ? '0' : `0-${hostCpus - 1}`}`,
      );
    }
    resources.cpu = { ...resources.cpu, cpus: options.cpusetCpus };
  }
  if (options.pidsLimit !== undefined && options.pidsLimit > 0) resources.pids = { limit: options.pidsLimit };
  return resources;
}

function planSeccomp(
  options: RunOptions,
  choice: ReturnType<typeof parseSecurityOpts>['seccomp'],
  caps: string[],
  context: PlanContext,
): LinuxSeccomp | undefined {
  if (options.privileged || choice.kind === 'unconfined') return undefined;
  const arch = context.arch ?? hostSeccompArch();
  const resolve = { arch, caps, ...(context.kernel === undefined ? {} : { kernel: context.kernel }) };
  if (choice.kind === 'default') return resolveProfile(defaultSeccompProfile(), resolve);
  if (options.seccompProfileContent === undefined) {
    throw new EngineError('FAILED_PRECONDITION', `load seccomp profile ${choice.path}: the file was not read`, {
      hint: 'the caller reads the file named by --security-opt seccomp=PATH into seccompProfileContent',
    });
  }
  return resolveProfile(parseProfile(options.seccompProfileContent, choice.path), resolve);
}

/** The OCI runtime spec of a container. Throws EngineError for impossible or invalid requests. */
export function planSpec(options: RunOptions, context: PlanContext): Spec {
  if (!/^[0-9a-f]{64}$/.test(options.containerId)) throw invalid(`invalid container id ${JSON.stringify(options.containerId)}`);
  if (!options.rootfsPath.startsWith('/')) throw invalid(`rootfs path ${JSON.stringify(options.rootfsPath)} is not absolute`);
  const security = parseSecurityOpts(options.securityOpt);
  for (const ignored of security.ignored) context.warn?.(`--security-opt ${ignored} has no effect here`);
  const hostEnv = context.hostEnv ?? {};
  const network = options.network ?? 'bridge';
  const hostNetwork = network === 'host';

  const user = resolveUser(options.user ?? options.imageConfig.User ?? '', {
    passwd: context.passwd,
    group: context.group,
  });
  const hostname = planHostname(options, context, hostNetwork);
  const caps = planCapabilities(options, context.engineCaps ?? ALL_CAPABILITIES);
  const unmasked = options.privileged === true || security.unmaskSystemPaths;
  const seccomp = planSeccomp(options, security.seccomp, caps, context);

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: options.tty === true,
      user: { uid: user.uid, gid: user.gid, umask: DEFAULT_UMASK, additionalGids: user.additionalGids },
      args: planArgs(options),
      env: planEnv(options, hostname, user.home, hostEnv),
      cwd: planWorkdir(options.workdir, options.imageConfig.WorkingDir),
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      rlimits: defaultRlimits(context.nofileHard),
      noNewPrivileges: security.noNewPrivileges,
    },
    root: { path: options.rootfsPath, readonly: options.readOnly === true },
    hostname,
    mounts: planMounts(options),
    linux: {
      namespaces: planNamespaces(network),
      devices: options.privileged ? [...(context.hostDevices ?? [])] : [],
      resources: planResources(options, context),
      cgroupsPath: context.cgroupsPath ?? `/didactic-container/${options.containerId}`,
      maskedPaths: unmasked ? [] : [...DEFAULT_MASKED_PATHS],
      readonlyPaths: unmasked ? [] : [...DEFAULT_READONLY_PATHS],
      rootfsPropagation: 'rprivate',
    },
  };
  if (seccomp !== undefined) spec.linux.seccomp = seccomp;
  if (!hostNetwork) spec.linux.sysctl = { ...DEFAULT_NETWORK_SYSCTLS };
  const annotations: Record<string, string> = { ...options.annotations };
  if (options.name !== undefined) annotations['dev.didactic-container.name'] = options.name;
  if (options.image !== undefined) annotations['dev.didactic-container.image'] = options.image;
  if (Object.keys(annotations).length > 0) spec.annotations = annotations;

  validateSpec(spec);
  return spec;
}
