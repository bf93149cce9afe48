/**
 * Checks a runtime spec before it is written: what runc would refuse and
 * what the kernel would refuse later, found early with a message naming the
 * field. `specProblems` lists every problem; `validateSpec` throws on the
 * first ones.
 */
import { EngineError } from '../common/index.js';
import { capabilityNumber } from './defaults.js';
import { SECCOMP_ACTIONS, SECCOMP_OPERATORS } from './seccomp/profile.js';
import type { LinuxNamespaceType, Spec } from './types.js';
import { MAX_ID } from './user.js';
import { MIN_MEMORY } from './run-options.js';

const NAMESPACE_TYPES: readonly LinuxNamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup'];
const PROPAGATIONS = ['', 'private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'];
const RLIMIT_RE = /^RLIMIT_[A-Z]+$/;

const isAbsolute = (path: string): boolean => path.startsWith('/');
const isId = (value: number): boolean => Number.isInteger(value) && value >= 0 && value <= MAX_ID;

export function specProblems(spec: Spec): string[] {
  const problems: string[] = [];
  const problem = (text: string): void => {
    problems.push(text);
  };

  if (!/^1\.\d+\.\d+/.test(spec.ociVersion)) problem(`ociVersion ${JSON.stringify(spec.ociVersion)} is not 1.x.y`);
  if (spec.root.path === '') problem('root.path is empty');

  const proc = spec.process;
  if (proc.args.length === 0 || proc.args[0] === '') problem('process.args is empty: no command specified');
  if (!isAbsolute(proc.cwd)) problem(`process.cwd ${JSON.stringify(proc.cwd)} is not an absolute path`);
  for (const entry of proc.env) {
    if (!entry.includes('=') || entry.startsWith('=')) problem(`process.env entry ${JSON.stringify(entry)} is not NAME=VALUE`);
    if (entry.includes('\0')) problem('process.env entry contains a NUL byte');
  }
  if (proc.args.some((arg) => arg.includes('\0'))) problem('process.args contains a NUL byte');
  if (!isId(proc.user.uid)) problem(`process.user.uid ${proc.user.uid} is out of range`);
  if (!isId(proc.user.gid)) problem(`process.user.gid ${proc.user.gid} is out of range`);
  for (const gid of proc.user.additionalGids ?? []) if (!isId(gid)) problem(`additional gid ${gid} is out of range`);
  if (proc.user.umask !== undefined && !(proc.user.umask >= 0 && proc.user.umask <= 0o777)) {
    problem(`process.user.umask ${proc.user.umask} is out of range`);
  }
  const capSets = proc.capabilities;
  for (const [set, names] of Object.entries(capSets) as [string, string[] | undefined][]) {
    for (const name of names ?? []) if (capabilityNumber(name) === undefined) problem(`capabilities.${set}: unknown ${name}`);
  }
  for (const name of capSets.effective) {
    if (!capSets.permitted.includes(name)) problem(`capability ${name} is effective but not permitted`);
  }
  for (const name of capSets.permitted) {
    if (!capSets.bounding.includes(name)) problem(`capability ${name} is permitted but not in the bounding set`);
  }
  for (const limit of proc.rlimits) {
    if (!RLIMIT_RE.test(limit.type)) problem(`rlimit type ${JSON.stringify(limit.type)} is unknown`);
    if (limit.soft > limit.hard) problem(`rlimit ${limit.type}: soft ${limit.soft} is above hard ${limit.hard}`);
  }
  if (proc.oomScoreAdj !== undefined && !(proc.oomScoreAdj >= -1000 && proc.oomScoreAdj <= 1000)) {
    problem(`process.oomScoreAdj ${proc.oomScoreAdj} is not in -1000..1000`);
  }

  if (spec.hostname !== undefined && spec.hostname.length > 64) problem('hostname is longer than 64 characters');

  const seen = new Set<string>();
  for (const mount of spec.mounts) {
    if (!isAbsolute(mount.destination)) problem(`mount destination ${JSON.stringify(mount.destination)} is not absolute`);
    if (mount.destination.split('/').includes('..')) problem(`mount destination ${mount.destination} contains ..`);
    if (seen.has(mount.destination)) problem(`two mounts on ${mount.destination}`);
    seen.add(mount.destination);
  }

  const linux = spec.linux;
  const types = new Set<string>();
  for (const ns of linux.namespaces) {
    if (!NAMESPACE_TYPES.includes(ns.type)) problem(`namespace type ${JSON.stringify(ns.type)} is unknown`);
    if (types.has(ns.type)) problem(`namespace ${ns.type} is listed twice`);
    types.add(ns.type);
  }
  if (spec.hostname !== undefined && !types.has('uts')) problem('a hostname needs a uts namespace');
  if (linux.sysctl && Object.keys(linux.sysctl).some((key) => key.startsWith('net.')) && !types.has('network')) {
    problem('net.* sysctls need a network namespace');
  }
  if ((linux.uidMappings || linux.gidMappings) && !types.has('user')) problem('id mappings need a user namespace');
  if (!PROPAGATIONS.includes(linux.rootfsPropagation ?? '')) {
    problem(`rootfsPropagation ${JSON.stringify(linux.rootfsPropagation)} is unknown`);
  }
  for (const path of [...(linux.maskedPaths ?? []), ...(linux.readonlyPaths ?? [])]) {
    if (!isAbsolute(path)) problem(`masked or read-only path ${JSON.stringify(path)} is not absolute`);
  }

  const res = linux.resources;
  for (const rule of res.devices) {
    if (rule.access !== undefined && !/^[rwm]{1,3}$/.test(rule.access)) problem(`device rule access ${rule.access} is not rwm`);
  }
  const memory = res.memory;
  if (memory?.limit !== undefined && memory.limit < MIN_MEMORY) problem(`memory limit ${memory.limit} is below 6MB`);
  if (memory?.swap !== undefined && memory.swap !== -1) {
    if (memory.limit === undefined) problem('a swap limit needs a memory limit');
    else if (memory.swap < memory.limit) problem(`memory+swap ${memory.swap} is below the memory limit ${memory.limit}`);
  }
  const cpu = res.cpu;
  if (cpu?.quota !== undefined && cpu.quota !== -1 && cpu.quota < 1000) problem(`cpu quota ${cpu.quota} is below 1000`);
  if (cpu?.period !== undefined && (cpu.period < 1000 || cpu.period > 1_000_000)) {
    problem(`cpu period ${cpu.period} is not in 1000..1000000`);
  }
  if (cpu?.shares !== undefined && cpu.shares < 2) problem(`cpu shares ${cpu.shares} is below 2`);
  if (res.pids !== undefined && !(res.pids.limit > 0 || res.pids.limit === -1)) problem(`pids limit ${res.pids.limit}`);

  const seccomp = linux.seccomp;
  if (seccomp !== undefined) {
    if (!SECCOMP_ACTIONS.includes(seccomp.defaultAction)) problem(`seccomp default action ${seccomp.defaultAction}`);
    for (const rule of seccomp.syscalls ?? []) {
      if (rule.names.length === 0) problem('a seccomp rule names no syscall');
      if (!SECCOMP_ACTIONS.includes(rule.action)) problem(`seccomp action ${rule.action} (${rule.names[0]})`);
      for (const arg of rule.args ?? []) {
        if (!(arg.index >= 0 && arg.index <= 5)) problem(`seccomp argument index ${arg.index} (${rule.names[0]})`);
        if (!SECCOMP_OPERATORS.includes(arg.op)) problem(`seccomp operator ${arg.op} (${rule.names[0]})`);
      }
    }
  }
  return problems;
}

/** Throws INVALID_ARGUMENT when the spec has problems. */
export function validateSpec(spec: Spec): void {
  const problems = specProblems(spec);
  if (problems.length > 0) {
    throw new EngineError('INVALID_ARGUMENT', `invalid runtime spec: ${problems.join('; ')}`);
  }
}
