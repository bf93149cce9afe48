/**
 * spec/: pure planning from run options to a validated OCI runtime spec
 * (config.json), with Docker's defaults, and the seccomp compiler.
 */
export * from './types.js';
export * from './defaults.js';
export * from './run-options.js';
export * from './user.js';
export * from './env.js';
export * from './caps.js';
export * from './validate.js';
export * from './plan.js';
export * from './seccomp/index.js';
