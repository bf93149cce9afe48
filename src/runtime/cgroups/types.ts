/**
 * One interface over cgroup v1 and cgroup v2.
 *
 * A CgroupManager is bound to one container's group (`<parent>/<name>`, e.g.
 * `didactic-container/<container id>`). On v1 that group is one directory per
 * controller hierarchy (/sys/fs/cgroup/memory/didactic-container/<id>,
 * /sys/fs/cgroup/cpu/didactic-container/<id>, ...); on v2 it is one directory
 * in the unified tree. Resources are given in the OCI runtime spec's terms
 * (linux.resources) and translated to each version's files.
 */

/** The cgroup layout of a machine, read from /proc/self/mountinfo. */
export interface CgroupLayout {
  /**
   * v1: only cgroup v1 hierarchies; v2: only the unified cgroup2 hierarchy;
   * hybrid: v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified)
   * that holds few or no controllers; none: no cgroup file system mounted.
   */
  mode: 'v1' | 'v2' | 'hybrid' | 'none';
  /** Controllers bound to v1 hierarchies, sorted (cpu, cpuacct, memory, pids, ...). */
  v1Controllers: string[];
  /** Controllers listed in the unified mount's cgroup.controllers, in the kernel's order. */
  v2Controllers: string[];
  /** Where the cgroup2 hierarchy is mounted, if it is. */
  unifiedMount?: string;
  /** Controller -> the mount point of its v1 hierarchy (cpu and cpuacct may share one). */
  v1Mounts: Record<string, string>;
  /** The controllers a container's limits go through: v1's on v1 and hybrid, v2's on v2. */
  usableControllers: string[];
}

/** OCI linux.resources.devices[] entry. Absent major/minor mean any (`*`). */
export interface DeviceRule {
  allow: boolean;
  /** a (all), c (char) or b (block); absent means a. */
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** Some of r, w, m; absent means rwm. */
  access?: string;
}

/** The subset of OCI linux.resources this engine applies. */
export interface CgroupResources {
  memory?: {
    /** Bytes; -1 means no limit, 0 or absent leave it as it is. */
    limit?: number;
    /** Memory plus swap, in bytes (Docker's --memory-swap); -1 means unlimited swap; 0 or absent leave it. */
    swap?: number;
  };
  cpu?: {
    /** Relative weight, 2..262144 (Docker's --cpu-shares; 1024 is the default); 0 leaves it. */
    shares?: number;
    /** Microseconds of CPU time allowed per period; -1 means no limit, 0 leaves it. */
    quota?: number;
    /** The period in microseconds (default 100000). */
    period?: number;
    /** cpuset, e.g. "0-1,3". */
    cpus?: string;
    /** Memory nodes, e.g. "0". */
    mems?: string;
  };
  pids?: {
    /** Maximum number of tasks; negative means no limit, 0 leaves it (runc's reading). */
    limit: number;
  };
  /** Applied in order, after denying everything (v1 only; see CgroupManager.set). */
  devices?: DeviceRule[];
}

export interface CgroupStats {
  memory: {
    /** Bytes charged to the group now. */
    usage: number;
    /** Bytes, or null when unlimited. */
    limit: number | null;
    /** The highest usage seen, when the kernel keeps it (v1 max_usage, v2 memory.peak). */
    maxUsage?: number;
  };
  cpu: {
    /** CPU time used by the group's tasks, in nanoseconds. */
    usageNs: number;
  };
  pids: {
    current: number;
    /** null when unlimited. */
    limit: number | null;
  };
}

/** What applying resources could not do exactly as asked. */
export interface CgroupReport {
  /** Plain sentences, e.g. "swap accounting is off: the memory+swap limit is not enforced". */
  warnings: string[];
}

export interface CgroupManager {
  readonly version: 'v1' | 'v2';
  /** `<parent>/<name>`, relative to each hierarchy's mount point. */
  readonly path: string;
  /** The directories that make up this group (one per v1 hierarchy, one on v2). */
  directories(): string[];
  /** The cgroup.procs file of each of those directories: writing a pid (or 0, oneself) there joins the group. */
  procsFiles(): string[];
  /** Creates the group (and its parent) and applies the resources. */
  create(resources?: CgroupResources): Promise<CgroupReport>;
  /** Moves a process into the group (cgroup.procs); its future children follow it. */
  apply(pid: number): Promise<void>;
  /**
   * Applies resources to an existing group. Device rules on v2 need an eBPF
   * program attached with bpf(2), which Node cannot call: they are not applied
   * here and come back as a warning.
   */
  set(resources: CgroupResources): Promise<CgroupReport>;
  stats(): Promise<CgroupStats>;
  /** Stops every task of the group; resolves once the kernel says the group is frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Whether the kernel's OOM killer has killed a task of this group. */
  oomKilled(): Promise<boolean>;
  /** The pids of the processes in the group, as seen from this pid namespace. */
  pids(): Promise<number[]>;
  /** SIGKILL every process of the group, and only those (cgroup.kill on v2). */
  kill(): Promise<void>;
  /** Removes the group's directories; waits briefly for processes to drain. Idempotent. */
  destroy(): Promise<void>;
}
