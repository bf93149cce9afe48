/** Seccomp: Docker's default profile as data, profiles -> OCI form, OCI form -> BPF. */
export * from './bpf.js';
export * from './compile.js';
export * from './default-profile.js';
export * from './interpret.js';
export * from './profile.js';
export * from './syscalls.js';
