/** Looking at a test root's image store the way the engine sees it. */
import assert from 'node:assert/strict';
import { resolvePaths } from '../../src/common/index.js';
import { createEngine } from '../../src/engine/index.js';
import { chainIds, createLayerStore } from '../../src/snapshot/index.js';
import type { TempRoot } from './tmp-root.js';

/** `check` through the engine API (in-process: a CLI start costs most of a second here). */
export async function assertStoreHealthy(root: TempRoot): Promise<void> {
  const engine = createEngine({ root: root.root, runRoot: root.runRoot });
  try {
    const report = await engine.checkStore();
    assert.deepEqual({ bad: report.blobs.bad, missing: report.layers.missing }, { bad: [], missing: [] });
  } finally {
    engine.close();
  }
}

/** Where the layers of an image with these diff ids are (or would be) unpacked. */
export function layerDirsOf(root: TempRoot, diffIds: string[]): string[] {
  const store = createLayerStore(resolvePaths({ root: root.root, runRoot: root.runRoot }));
  return chainIds(diffIds).map((id) => store.layerDir(id));
}
