/** The one interface under the CLI and the API. */
import type { EnginePaths, Explainer, ProgressSink } from '../common/index.js';

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

export interface Engine {
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
  close(): void;
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
