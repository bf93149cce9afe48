/**
 * The subset of the OCI runtime specification (config.json) this engine
 * writes. Field names follow the specification exactly, so the same file is
 * read by our own runtime and by runc. Optional fields are left out of the
 * JSON when undefined.
 *
 * Reference: https://github.com/opencontainers/runtime-spec (config.md,
 * config-linux.md), version 1.0.2.
 */

export const OCI_VERSION = '1.0.2';

export interface Spec {
  ociVersion: string;
  process: Process;
  root: Root;
  hostname?: string;
  mounts: Mount[];
  linux: Linux;
  annotations?: Record<string, string>;
}

export interface Process {
  terminal: boolean;
  user: User;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: LinuxCapabilities;
  rlimits: POSIXRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface LinuxCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable?: string[];
  ambient?: string[];
}

export interface POSIXRlimit {
  /** For example RLIMIT_NOFILE. */
  type: string;
  hard: number;
  soft: number;
}

export interface Root {
  path: string;
  readonly: boolean;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export type LinuxNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface LinuxNamespace {
  type: LinuxNamespaceType;
  /** Join an existing namespace instead of creating one. */
  path?: string;
}

export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** A device node the runtime creates inside the container. */
export interface LinuxDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** One rule of the device cgroup (devices.allow / devices.deny, or the v2 BPF program). */
export interface LinuxDeviceCgroup {
  allow: boolean;
  /** 'a' (all), 'c' or 'b'; absent means all. */
  type?: 'a' | 'c' | 'b';
  /** Absent means any (written as '*'). */
  major?: number;
  minor?: number;
  /** Some of r, w, m. */
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  /** Memory plus swap, -1 for unlimited (the cgroup v1 memsw semantics). */
  swap?: number;
  reservation?: number;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  period?: number;
  /** cpuset, for example "0-2,4". */
  cpus?: string;
  mems?: string;
}

export interface LinuxPids {
  limit: number;
}

export interface LinuxResources {
  devices: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
}

export type LinuxSeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type LinuxSeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

export type LinuxSeccompArchName =
  | 'SCMP_ARCH_X86'
  | 'SCMP_ARCH_X86_64'
  | 'SCMP_ARCH_X32'
  | 'SCMP_ARCH_ARM'
  | 'SCMP_ARCH_AARCH64'
  | (string & {});

export interface LinuxSeccompArg {
  /** Argument position, 0..5. */
  index: number;
  /** The value compared with, or the mask for SCMP_CMP_MASKED_EQ. */
  value: number;
  /** The expected value after masking, for SCMP_CMP_MASKED_EQ. */
  valueTwo?: number;
  op: LinuxSeccompOperator;
}

export interface LinuxSyscall {
  names: string[];
  action: LinuxSeccompAction;
  /** The errno returned for SCMP_ACT_ERRNO (default EPERM). */
  errnoRet?: number;
  /** All must hold (AND) for the rule to apply. */
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number;
  architectures?: LinuxSeccompArchName[];
  flags?: string[];
  syscalls?: LinuxSyscall[];
}

export interface Linux {
  namespaces: LinuxNamespace[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  devices?: LinuxDevice[];
  resources: LinuxResources;
  cgroupsPath?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: LinuxSeccomp;
  /** rprivate, rslave, rshared, private, slave, shared or unbindable. */
  rootfsPropagation?: string;
  sysctl?: Record<string, string>;
}
