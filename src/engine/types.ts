/** The one interface under the CLI and the API. */
import type { EngineError, EnginePaths, Explainer, ProgressSink } from '../common/index.js';
import type { ContainerVerbs } from './container-types.js';
import type { InspectMount } from '../volume/index.js';

export type { InspectMount } from '../volume/index.js';

export interface EngineOptions {
  root?: string | undefined;
  runRoot?: string | undefined;
  explainer?: Explainer | undefined;
  /** Registries spoken to over plain HTTP (loopback ones always are). Env DIDACTIC_INSECURE_REGISTRIES, comma-separated. */
  insecureRegistries?: string[] | undefined;
  /** Where login keeps credentials; default ~/.config/didactic-container/auth.json (env DIDACTIC_CONTAINER_AUTH). */
  credentialsFile?: string | undefined;
}

export interface CgroupInfo {
  /** 'v1', 'v2' or 'hybrid' (v1 controllers plus a cgroup2 mount, as on these machines). */
  mode: 'v1' | 'v2' | 'hybrid' | 'none' | 'unknown';
  v1Controllers: string[];
  v2Controllers: string[];
  unifiedMount: string | null;
}

export interface EngineInfo {
  version: string;
  node: string;
  os: string;
  arch: string;
  kernel: string;
  runningAsRoot: boolean;
  cgroups: CgroupInfo;
  overlay: { supported: boolean; detail: string };
  storage: { root: string; runRoot: string; database: string; backingFilesystem: string | null };
  images: number | null;
  containers: { total: number; running: number; paused: number; stopped: number } | null;
  warnings: string[];
}

export interface Engine extends ContainerVerbs {
  readonly paths: EnginePaths;
  info(): Promise<EngineInfo>;
  pull(ref: string, options?: PullOptions): Promise<PullResult>;
  importImage(name: string, options: ImportOptions): Promise<{ imageId: string; ref: string }>;
  listImages(): Promise<ImageSummary[]>;
  inspectImage(ref: string): Promise<ImageInspect>;
  imageHistory(ref: string): Promise<HistoryItem[]>;
  tagImage(source: string, target: string): Promise<void>;
  removeImage(ref: string, options?: { force?: boolean }): Promise<RemoveImageReport[]>;
  pruneImages(): Promise<PruneReport>;
  login(registry: string, username: string, password: string): Promise<void>;
  logout(registry: string): Promise<boolean>;
  checkStore(options?: { repair?: boolean }): Promise<StoreCheckReport>;
  /** `create`: the container's row ('created'), bundle and config.json; nothing runs. */
  createContainer(options: RunRequest): Promise<{ id: string; name: string }>;
  /** `run -d`: create, then start under its monitor; resolves once its command runs (exitCode 0), or 126/127 with the error. */
  runDetached(options: RunRequest): Promise<RunResult>;
  /** Runs a container in the foreground and resolves with its exit status once it has ended and been cleaned up. */
  run(options: RunRequest): Promise<RunResult>;
  createNetwork(request: NetworkCreateRequest): Promise<NetworkInspect>;
  listNetworks(): Promise<NetworkInspect[]>;
  inspectNetwork(nameOrId: string): Promise<NetworkInspect>;
  /** Refused while containers are attached; deletes the bridge and the address leases. */
  removeNetwork(nameOrId: string): Promise<void>;
  pruneNetworks(): Promise<NetworkPruneReport>;
  /** Joins a container to a network through the CNI plugins (ADD). */
  attachNetwork(request: NetworkAttachRequest): Promise<NetworkAttachment>;
  /** Takes a container off its networks (all, or only `network`): CNI DEL, idempotent, every step tried. */
  detachNetworks(containerId: string, network?: string): Promise<NetworkDetachReport>;
  /** CNI CHECK of every network of a container: throws when what ADD made is gone or changed. */
  checkNetworks(containerId: string): Promise<void>;
  /** A container's networks and published ports (Docker's NetworkSettings shape). */
  networkSettings(containerId: string): Promise<NetworkSettings>;
  /** Brings lo up in the network namespace of `pid` (for --network none; attachNetwork does it otherwise). */
  setUpLoopback(containerId: string, pid: number): Promise<void>;
  /** `volume create`: a local volume at <root>/volumes/<name>/_data; an existing name is returned as it is. */
  createVolume(request?: VolumeCreateRequest): Promise<VolumeInspect>;
  listVolumes(): Promise<VolumeInspect[]>;
  inspectVolume(name: string): Promise<VolumeInspect>;
  /** Refused (CONFLICT) while a container uses it, unless `force`. */
  removeVolume(name: string, options?: { force?: boolean }): Promise<void>;
  /** Unused anonymous volumes; every unused volume with `all`. */
  pruneVolumes(options?: { all?: boolean }): Promise<VolumePruneReport>;
  /**
   * Forgets a container's mounts and, with `removeAnonymous` (rm -v), removes
   * the anonymous volumes it made that no other container uses. Call before
   * the container's row is deleted. Returns the volumes removed.
   */
  releaseContainerVolumes(containerId: string, options?: { removeAnonymous?: boolean }): Promise<string[]>;
  /** A container's mounts in Docker's inspect shape. */
  mountsForInspect(containerId: string): Promise<InspectMount[]>;
  /** `exec`: a command in a running container's namespaces, cgroups and security settings; resolves with its exit status. */
  exec(request: ExecRequest): Promise<ExecResult>;
  /** `cp`: copies between a running container (`CONTAINER:PATH`) and the host, either way. */
  copy(request: CopyRequest): Promise<CopyResult>;
  close(): void;
}

/** What `run` was asked, as the CLI (or API) received it: strings, parsed by the engine. */
export interface RunRequest {
  /** Image reference, id or id prefix. */
  image: string;
  /** COMMAND [ARG...]; empty means the image's Cmd. */
  command?: string[] | undefined;
  name?: string | undefined;
  /** -e/--env: NAME=VALUE, or NAME to take the caller's value. */
  env?: string[] | undefined;
  /** --env-file paths, read in order. */
  envFile?: string[] | undefined;
  workdir?: string | undefined;
  user?: string | undefined;
  /** --entrypoint; '' clears the image's. */
  entrypoint?: string | undefined;
  hostname?: string | undefined;
  /** --rm: remove everything of the container when it ends (also when it failed to start). */
  rm?: boolean | undefined;
  readOnly?: boolean | undefined;
  interactive?: boolean | undefined;
  tty?: boolean | undefined;
  /** none or host for now; default none. */
  network?: string | undefined;
  capAdd?: string[] | undefined;
  capDrop?: string[] | undefined;
  privileged?: boolean | undefined;
  securityOpt?: string[] | undefined;
  memory?: string | undefined;
  memorySwap?: string | undefined;
  cpus?: string | undefined;
  cpuShares?: string | undefined;
  cpusetCpus?: string | undefined;
  pidsLimit?: string | undefined;
  /** An OCI runtime binary (runc, or a path) to run the bundle instead of the built-in launcher. */
  runtime?: string | undefined;
  /** -v/--volume: HOST:CONTAINER[:MODE], NAME:CONTAINER[:MODE] or CONTAINER (anonymous). */
  volumes?: string[] | undefined;
  /** --mount type=bind|volume|tmpfs,source=,target=,... */
  mounts?: string[] | undefined;
  /** --tmpfs PATH[:OPTIONS]. */
  tmpfs?: string[] | undefined;
  /** --volumes-from CONTAINER[:ro|rw]. */
  volumesFrom?: string[] | undefined;
  /** The caller's environment, for `-e NAME`; default process.env. */
  hostEnv?: Readonly<Record<string, string | undefined>> | undefined;
  /** The container's stdin, stdout, stderr: inherited by default (foreground). */
  stdio?: RunStdio | undefined;
  /**
   * Signals the caller receives and wants forwarded to the container: called
   * once with the forwarding function; returns the unsubscribe.
   */
  forwardSignals?: ((forward: (signal: NodeJS.Signals) => void) => () => void) | undefined;
  /** --restart no|always|unless-stopped|on-failure[:N]: carried out by the monitor of a detached container. */
  restart?: string | undefined;
  /** --stop-signal: what `stop` sends first (default the image's StopSignal, else SIGTERM). */
  stopSignal?: string | undefined;
  /** --stop-timeout: seconds `stop` waits before SIGKILL (default 10). */
  stopTimeout?: number | undefined;
  /** Accepted options that have no effect here. */
  onWarning?: ((message: string) => void) | undefined;
}

export type RunStdio = ['inherit' | 'ignore' | number, 'inherit' | 'ignore' | number, 'inherit' | 'ignore' | number];

export interface RunResult {
  id: string;
  name: string;
  /** The container's exit status; 125, 126 or 127 when it could not start (see error). */
  exitCode: number;
  oomKilled: boolean;
  /** Why the container's command could not start (exitCode 126 or 127). */
  error?: EngineError;
}

/** One row of `image ls`, Docker's ImageSummary shape. */
export interface ImageSummary {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: string | null;
  Size: number;
  Containers: number;
}

/** `image inspect`, the fields of Docker's shape that this engine knows. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string | null;
  Author: string;
  Config: object;
  Architecture: string;
  Variant: string | undefined;
  Os: string;
  Size: number;
  RootFS: { Type: 'layers'; Layers: string[] };
  Metadata: { LastTagTime: string };
  Descriptor: { digest: string } | undefined;
}

export interface HistoryItem {
  Id: string;
  Created: string | null;
  CreatedBy: string;
  Size: number;
  Comment: string;
  Tags: string[];
}

export type RemoveImageReport = { Untagged: string } | { Deleted: string };

export interface PruneReport {
  ImagesDeleted: RemoveImageReport[];
  SpaceReclaimed: number;
}

export interface PullOptions {
  /** `os/arch[/variant]`; the host's by default. */
  platform?: string | undefined;
  /** Parallel layer downloads (3 by default). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ProgressSink | undefined;
}

export interface PullResult {
  ref: string;
  imageId: string;
  manifestDigest: string;
  downloadedBytes: number;
  layers: number;
  cachedLayers: number;
}

export interface ImportOptions {
  file?: string | undefined;
  url?: string | undefined;
  message?: string | undefined;
  onProgress?: ProgressSink | undefined;
}

export interface StoreCheckReport {
  blobs: { ok: number; bad: { name: string; reason: string }[] };
  layers: { ok: number; missing: string[] };
}

/** `network create`. */
export interface NetworkCreateRequest {
  name: string;
  /** IPv4 CIDR; default a free block (10.89.N.0/24 ...) that no route of the host covers. */
  subnet?: string | undefined;
  /** Default the first host address of the subnet. */
  gateway?: string | undefined;
  /** No NAT, no default route, no published ports. */
  internal?: boolean | undefined;
  labels?: Record<string, string> | undefined;
}

/** `network inspect` and `network ls --format json`, Docker's shape. */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string>; Config: { Subnet: string; Gateway: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export interface NetworkPruneReport {
  NetworksDeleted: string[];
}

/** A container joining a network; called by run once the container's pid is known (before it execs). */
export interface NetworkAttachRequest {
  containerId: string;
  containerName: string;
  /** Network name or id; default `bridge` (created on first use). */
  network?: string | undefined;
  /** The container's pid: its /proc/<pid>/ns/net is pinned under the run root until detach. */
  pid?: number | undefined;
  /** Or a namespace path the caller keeps alive itself (e.g. /run/netns/NAME). */
  netnsPath?: string | undefined;
  /** Interface name inside the container; default the next free ethN. */
  ifname?: string | undefined;
  /** -p values: [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp] or CONTAINERPORT. */
  publish?: string[] | undefined;
  /** --network-alias: more names the other members resolve. */
  aliases?: string[] | undefined;
  /** --add-host NAME:IP. */
  addHosts?: string[] | undefined;
  /** The container's hosts file (bundle), bind-mounted at /etc/hosts; rewritten in place as members come and go. */
  hostsFile?: string | undefined;
}

export interface NetworkAttachment {
  network: string;
  networkId: string;
  ifname: string;
  netns: string;
  ip: string;
  prefix: number;
  gateway: string;
  mac: string;
  bridge: string;
  /** The published ports with the host ports finally used. */
  ports: { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp'; hostIP?: string }[];
}

export interface NetworkDetachReport {
  /** Names of the networks left. */
  detached: string[];
  errors: string[];
}

/** A container's networks and published ports in Docker's `NetworkSettings` shape (for inspect, ps, port). */
export interface NetworkSettings {
  Networks: Record<string, { NetworkID: string; EndpointID: string; Gateway: string; IPAddress: string; IPPrefixLen: number; MacAddress: string; Aliases: string[] }>;
  /** "80/tcp" -> the host bindings. */
  Ports: Record<string, { HostIp: string; HostPort: string }[]>;
}

/** `volume create`. */
export interface VolumeCreateRequest {
  /** Default: a random 64-hex name. */
  name?: string | undefined;
  labels?: Record<string, string> | undefined;
}

/** `volume inspect` and `volume ls --format json`, Docker's shape. */
export interface VolumeInspect {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string>;
  Scope: 'local';
}

export interface VolumePruneReport {
  VolumesDeleted: string[];
  SpaceReclaimed: number;
}

export interface ExecRequest {
  /** Name or id (prefix). */
  container: string;
  command: string[];
  /** -e NAME=VALUE or NAME (taken from hostEnv), over the container's environment. */
  env?: string[] | undefined;
  /** -w: absolute; default the container's working directory. */
  workdir?: string | undefined;
  /** -u user[:group] resolved in the container's /etc/passwd and /etc/group. */
  user?: string | undefined;
  /** -d: start it and return. */
  detach?: boolean | undefined;
  /** -t: a pseudo-terminal for the command (the caller's terminal in raw mode). */
  tty?: boolean | undefined;
  /** Every capability the engine has (the seccomp filter stays the container's). */
  privileged?: boolean | undefined;
  hostEnv?: Readonly<Record<string, string | undefined>> | undefined;
  stdio?: RunStdio | undefined;
  /** Signals to forward to the command, as for run. */
  forwardSignals?: ((forward: (signal: NodeJS.Signals) => void) => () => void) | undefined;
}

export interface ExecResult {
  id: string;
  /** The command's host pid (0 when it could not start). */
  pid: number;
  /** The command's status; 0 with detach; 126/127 when it could not be run (see error). */
  exitCode: number;
  error?: EngineError;
}

export interface CopyRequest {
  /** `CONTAINER:PATH` or a host path. */
  source: string;
  /** `CONTAINER:PATH` or a host path; exactly one side names a container. */
  destination: string;
}

export interface CopyResult {
  id: string;
  direction: 'to-container' | 'from-container';
}
