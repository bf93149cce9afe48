/**
 * volume/: pure parsing and planning of volumes, binds and tmpfs mounts
 * (Docker's -v, --mount, --tmpfs, --volumes-from, image VOLUMEs) into OCI
 * mounts and inspect's Mounts. The engine creates what they name.
 */
export * from './types.js';
export * from './names.js';
export * from './parse.js';
export * from './plan.js';
