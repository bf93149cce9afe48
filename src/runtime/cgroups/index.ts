/**
 * Container cgroups behind one interface. createCgroupManager picks the v1
 * manager on v1 and hybrid machines (where the controllers live) and the v2
 * manager on pure cgroup v2 machines.
 */
import path from 'node:path';
import { EngineError, findCause, type Explainer } from '../../common/index.js';
import { DEFAULT_CGROUP_ROOT, detectCgroupLayout } from './detect.js';
import type { CgroupLayout, CgroupManager, CgroupReport, CgroupResources } from './types.js';
import { V1CgroupManager } from './v1.js';
import { V2CgroupManager } from './v2.js';

export type { CgroupLayout, CgroupManager, CgroupReport, CgroupResources, CgroupStats, DeviceRule } from './types.js';
export { DEFAULT_CGROUP_ROOT, V1_CONTROLLER_NAMES, detectCgroupLayout, parseCgroupMounts, type CgroupMount, type TextReader } from './detect.js';
export { cpuMaxValue, deviceRuleLine, sharesToWeight, swapMaxValue } from './convert.js';
export { V1CgroupManager, type V1Options } from './v1.js';
export { DEVICES_V2_WARNING, V2CgroupManager, type V2Options } from './v2.js';

/** The engine's own parent group: every container's group lives below it. */
export const DEFAULT_CGROUP_PARENT = 'didactic-container';

export interface CreateCgroupManagerOptions {
  /** The machine's layout; detected from /proc/self/mountinfo when absent. */
  layout?: CgroupLayout;
  /** Default "didactic-container". */
  parent?: string;
  /** The container's group name, usually its id. */
  name: string;
  /**
   * The cgroup file system root. On v2 it is where cgroup2 is mounted; on v1,
   * when given without a layout, each controller is taken to be at <fsRoot>/<controller>.
   */
  fsRoot?: string;
  explainer?: Explainer;
  drainTimeoutMs?: number;
}

export type CgroupManagerWithParent = CgroupManager & {
  /** Removes the parent group (in every hierarchy) if no container group is left in it. */
  removeParentIfEmpty(): Promise<boolean>;
};

/**
 * Creates a container's group. Another engine process cleaning up may
 * remove the shared, empty parent group between our mkdir of the parent and
 * of the child (ENOENT), or while we read its files (ENODEV: a group being
 * removed): then simply try again, up to three times.
 */
export async function createContainerCgroup(cgroup: CgroupManager, resources: CgroupResources = {}): Promise<CgroupReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await cgroup.create(resources);
    } catch (error) {
      const code = (cause: Error) => (cause as NodeJS.ErrnoException).code;
      if (attempt >= 3 || findCause(error, (cause) => code(cause) === 'ENOENT' || code(cause) === 'ENODEV') === undefined) throw error;
    }
  }
}

export function createCgroupManager(options: CreateCgroupManagerOptions): CgroupManagerWithParent {
  const layout = options.layout ?? detectCgroupLayout(undefined, options.fsRoot ?? DEFAULT_CGROUP_ROOT);
  const common = {
    parent: options.parent ?? DEFAULT_CGROUP_PARENT,
    name: options.name,
    ...(options.explainer ? { explainer: options.explainer } : {}),
    ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
  };
  switch (layout.mode) {
    case 'v1':
    case 'hybrid': {
      let mounts = layout.v1Mounts;
      if (options.fsRoot !== undefined && options.layout === undefined) {
        mounts = Object.fromEntries(layout.v1Controllers.map((c) => [c, path.join(options.fsRoot!, path.basename(layout.v1Mounts[c]!))]));
      }
      return new V1CgroupManager({ mounts, ...common });
    }
    case 'v2':
      return new V2CgroupManager({ fsRoot: options.fsRoot ?? layout.unifiedMount ?? DEFAULT_CGROUP_ROOT, ...common });
    case 'none':
      throw new EngineError('FAILED_PRECONDITION', 'create cgroup manager: no cgroup file system is mounted', {
        hint: 'mount cgroup2 on /sys/fs/cgroup (or the v1 hierarchies)',
      });
  }
}
