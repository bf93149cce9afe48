/** The lifecycle verbs of the engine (ps, inspect, start, stop, kill, rm, ...) and their shapes, Docker's. */

/** One row of `ps`, the fields of Docker's container summary this engine knows. */
export interface ContainerSummary {
  Id: string;
  /** Without Docker's leading slash. */
  Names: string[];
  /** The image as the user named it. */
  Image: string;
  ImageID: string;
  /** The command line, quoted words joined by spaces. */
  Command: string;
  /** RFC 3339. */
  Created: string;
  /** created, running, paused, restarting, exited, removing, dead. */
  State: string;
  /** Docker's words: "Up 3 seconds", "Exited (3) 2 minutes ago", "Created". */
  Status: string;
  Ports: string;
  /** For the CLI's status words; not in Docker's summary. */
  StartedAt: string | null;
  FinishedAt: string | null;
  ExitCode: number | null;
}

export interface ContainerStateInspect {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

/** `inspect`, Docker's shape (the fields this engine knows). */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerStateInspect;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: 'overlay';
  Platform: 'linux';
  Config: {
    Hostname: string;
    User: string;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    Image: string;
    WorkingDir: string;
    StopSignal: string;
    AttachStdin: boolean;
    OpenStdin: boolean;
    Tty: boolean;
  };
  HostConfig: {
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    CpuShares: number;
    CpusetCpus: string;
    PidsLimit: number | null;
    Privileged: boolean;
    ReadonlyRootfs: boolean;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    NetworkMode: string;
    CapAdd: string[] | null;
    CapDrop: string[] | null;
    AutoRemove: boolean;
    Runtime: string;
  };
  Mounts: object[];
  NetworkSettings: object;
}

export interface ListContainersOptions {
  /** -a: also containers that are not running. */
  all?: boolean;
  /** --filter KEY=VALUE: status=, name=, ancestor=, id=; the same key twice means either. */
  filters?: string[];
}

export interface StopOptions {
  /** Seconds to wait after the stop signal before SIGKILL; default 10. */
  timeout?: number;
  /** Default the image's StopSignal, else SIGTERM. */
  signal?: string;
}

export interface RemoveContainerOptions {
  /** -f: kill a running container first. */
  force?: boolean;
  /** -v: also its anonymous volumes (nothing to do until volumes land). */
  volumes?: boolean;
}

export interface ContainerLogsOptions {
  follow?: boolean;
  tail?: number;
  timestamps?: boolean;
  since?: string;
  until?: string;
  signal?: AbortSignal;
}

export interface ContainerLogChunk {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ContainerPruneReport {
  ContainersDeleted: string[];
  SpaceReclaimed: number;
}

/** One process of `top`. */
export interface ContainerProcess {
  pid: number;
  user: string;
  /** Used CPU time, [[dd-]hh:]mm:ss as ps prints it. */
  time: string;
  cmd: string;
}

/** `stats --no-stream`, one container. */
export interface ContainerStats {
  id: string;
  name: string;
  /** Percent of one CPU over the sampling interval (200% = two CPUs busy). */
  cpuPercent: number;
  memoryUsage: number;
  /** The cgroup's limit, or the host's memory when unlimited. */
  memoryLimit: number;
  memoryPercent: number;
  pids: number;
}

/** The container verbs of the engine. */
export interface ContainerVerbs {
  listContainers(options?: ListContainersOptions): Promise<ContainerSummary[]>;
  inspectContainer(nameOrId: string): Promise<ContainerInspect>;
  /** Starts a created or exited container detached, under its monitor; returns its id. */
  startContainer(nameOrId: string): Promise<string>;
  /** Stops a running container (stop signal, then SIGKILL after the timeout); returns its id. */
  stopContainer(nameOrId: string, options?: StopOptions): Promise<string>;
  restartContainer(nameOrId: string, options?: StopOptions): Promise<string>;
  /** Sends a signal (default SIGKILL) to a running container; returns its id. */
  killContainer(nameOrId: string, signal?: string): Promise<string>;
  removeContainer(nameOrId: string, options?: RemoveContainerOptions): Promise<string>;
  /** Waits until the container has ended; resolves with its exit code. */
  waitContainer(nameOrId: string, options?: { signal?: AbortSignal }): Promise<number>;
  renameContainer(nameOrId: string, newName: string): Promise<void>;
  pauseContainer(nameOrId: string): Promise<string>;
  unpauseContainer(nameOrId: string): Promise<string>;
  pruneContainers(): Promise<ContainerPruneReport>;
  containerLogs(nameOrId: string, options?: ContainerLogsOptions): AsyncGenerator<ContainerLogChunk>;
  topContainer(nameOrId: string): Promise<ContainerProcess[]>;
  /** Running containers (or the ones named), sampled over `intervalMs` (default 500). */
  containerStats(names: string[], options?: { intervalMs?: number }): Promise<ContainerStats[]>;
}
