export { createEngine } from './engine.js';
export type { Engine, EngineInfo, EngineOptions, CgroupInfo } from './types.js';
