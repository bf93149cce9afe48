/**
 * The kernel boundary. Only this module imports child_process and the native
 * addon; everything above it describes what to do and calls in here to do it.
 */
export * from './native.js';
export * from './launcher.js';
export * from './process.js';
export * from './capture.js';
export * from './netns.js';
export * from './monitor.js';
export * from './join.js';
