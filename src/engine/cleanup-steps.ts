/**
 * Clean-up that must try every step: a step that fails is remembered, and
 * the steps after it still run. Shared by run's own clean-up and by the
 * release of a container that ended under its monitor.
 */
import type { CgroupManagerWithParent } from '../runtime/index.js';

export interface CleanupSteps {
  /** Runs one step, keeping its failure instead of throwing it. */
  attempt(step: () => unknown): Promise<void>;
  /** The failures so far, in order. */
  readonly problems: unknown[];
}

export function cleanupSteps(): CleanupSteps {
  const problems: unknown[] = [];
  return {
    problems,
    async attempt(step) {
      try {
        await step();
      } catch (error) {
        problems.push(error);
      }
    },
  };
}

/** A container's cgroup: tasks still in it killed, its groups removed, and the engine's parent group when no container is left in it. */
export async function releaseCgroup(cgroup: CgroupManagerWithParent, steps: CleanupSteps): Promise<void> {
  await steps.attempt(async () => {
    if ((await cgroup.pids().catch(() => [])).length > 0) await cgroup.kill();
  });
  await steps.attempt(() => cgroup.destroy());
  await steps.attempt(() => cgroup.removeParentIfEmpty());
}
