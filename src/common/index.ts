export * from './errors.js';
export * from './paths.js';
export * from './digest.js';
export * from './ids.js';
export * from './explain.js';
export * from './version.js';
export * from './progress.js';
export * from './file-lock.js';
