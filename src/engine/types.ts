/** The one interface under the CLI and the API. */
import type { EnginePaths, Explainer } from '../common/index.js';

export interface EngineOptions {
  root?: string | undefined;
  runRoot?: string | undefined;
  explainer?: Explainer | undefined;
}

export interface CgroupInfo {
  /** 'v1', 'v2' or 'hybrid' (v1 controllers plus a cgroup2 mount, as on these machines). */
  mode: 'v1' | 'v2' | 'hybrid' | 'unknown';
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
  close(): void;
}
