import { resolvePaths, silentExplainer } from '../common/index.js';
import { readEngineInfo } from './info.js';
import type { Engine, EngineOptions } from './types.js';

/** Creates the engine over a data root. Nothing is opened or created until a verb needs it. */
export function createEngine(options: EngineOptions = {}): Engine {
  const paths = resolvePaths(options);
  const explainer = options.explainer ?? silentExplainer;
  void explainer;
  return {
    paths,
    async info() {
      return readEngineInfo(paths);
    },
    close() {},
  };
}
