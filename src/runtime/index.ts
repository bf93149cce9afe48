export * from './cgroups/index.js';
export * from './launch-plan.js';
