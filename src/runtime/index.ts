export * from './cgroups/index.js';
export * from './launch-plan.js';
export * from './exit-file.js';
export * from './log-file.js';
