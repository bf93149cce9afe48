/**
 * What `run` was asked to do, as the CLI parsed it, and the parsers that turn
 * the CLI's strings (sizes, cpus, capabilities, security options, users) into
 * values. Every parser throws EngineError INVALID_ARGUMENT naming the flag.
 */
import { EngineError } from '../common/index.js';
import { ALL_CAPABILITIES } from './defaults.js';

/** The part of an image's config (the OCI image config's `config` object) that running uses. */
export interface ImageRunConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
}

/** A bind mount asked for by the caller (the generated /etc files, later -v). */
export interface BindMount {
  source: string;
  destination: string;
  readonly?: boolean;
}

/** Network modes: none, host, bridge or a network's name. */
export type NetworkMode = 'none' | 'host' | 'bridge' | (string & {});

export interface RunOptions {
  /** The container id, 64 hex. */
  containerId: string;
  /** The container's name (annotated). */
  name?: string;
  /** The image reference as the user gave it (annotated). */
  image?: string;
  /** The image's config; absent fields mean Docker's defaults. */
  imageConfig: ImageRunConfig;
  /** The merged root filesystem, absolute. */
  rootfsPath: string;
  /** COMMAND [ARG...] after the image; empty or absent means the image's Cmd. */
  command?: string[];
  /** --entrypoint: undefined when not given, '' to clear the image's. */
  entrypoint?: string;
  /** -e/--env entries, NAME=VALUE or NAME (taken from the host env). */
  env?: string[];
  /** The contents of each --env-file, already read, in order. */
  envFiles?: string[];
  /** -w/--workdir. */
  workdir?: string;
  /** -u/--user: name, uid, uid:gid, name:group. */
  user?: string;
  /** --hostname. */
  hostname?: string;
  /** --read-only. */
  readOnly?: boolean;
  /** --network; default bridge. */
  network?: NetworkMode;
  /** --cap-add / --cap-drop as typed (NET_ADMIN, CAP_NET_ADMIN, ALL). */
  capAdd?: string[];
  capDrop?: string[];
  /** --privileged. */
  privileged?: boolean;
  /** --security-opt strings. */
  securityOpt?: string[];
  /** The text of the file named by --security-opt seccomp=PATH, read by the caller. */
  seccompProfileContent?: string;
  /** -m/--memory, bytes. */
  memory?: number;
  /** --memory-swap, bytes of memory plus swap, -1 for unlimited. */
  memorySwap?: number;
  /** --cpus as a number of CPUs (1.5). */
  cpus?: number;
  /** --cpu-shares. */
  cpuShares?: number;
  /** --cpuset-cpus, for example "0-1,3". */
  cpusetCpus?: string;
  /** --pids-limit; 0 or negative means unlimited. */
  pidsLimit?: number;
  /** -t/--tty. */
  tty?: boolean;
  /** -i/--interactive. */
  interactive?: boolean;
  /** Bind mounts for /etc/hosts, /etc/hostname, /etc/resolv.conf. Read-only when the root is. */
  networkFiles?: BindMount[];
  /** Further bind mounts. */
  mounts?: BindMount[];
  /** Extra annotations. */
  annotations?: Record<string, string>;
}

function invalid(message: string, hint?: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', message, hint === undefined ? {} : { hint });
}

const SIZE_RE = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i;
const UNIT: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** The smallest memory limit Docker accepts. */
export const MIN_MEMORY = 6 * 1024 * 1024;

/**
 * A size in bytes from Docker's notation: a number with an optional binary
 * unit b, k, m, g, t, p (any case, optional "b" or "ib" after): 32m, 1g,
 * 512k, 1.5g, 4096.
 */
export function parseSize(text: string, flag = '--memory'): number {
  const match = SIZE_RE.exec(text.trim());
  if (match === null) {
    throw invalid(`invalid ${flag} ${JSON.stringify(text)}: not a size`, 'use a number of bytes or a unit: 512k, 32m, 1g');
  }
  const value = Number(match[1]);
  const unit = match[2] === undefined ? 1 : UNIT[match[2].toLowerCase()]!;
  const bytes = Math.floor(value * unit);
  if (!Number.isSafeInteger(bytes)) throw invalid(`invalid ${flag} ${JSON.stringify(text)}: too large`);
  return bytes;
}

/** -m/--memory: a size of at least 6 MiB. */
export function parseMemory(text: string): number {
  const bytes = parseSize(text, '--memory');
  if (bytes < MIN_MEMORY) {
    throw invalid(`invalid --memory ${JSON.stringify(text)}: minimum memory limit allowed is 6MB`);
  }
  return bytes;
}

/** --memory-swap: a size, or -1 for unlimited swap. */
export function parseMemorySwap(text: string): number {
  if (text.trim() === '-1') return -1;
  return parseSize(text, '--memory-swap');
}

/** The CFS period Docker uses with --cpus, in microseconds. */
export const CPU_PERIOD = 100_000;

/** --cpus: a positive decimal number of CPUs, at least 0.01. */
export function parseCpus(text: string): number {
  const trimmed = text.trim();
  if (!/^\d*\.?\d+$/.test(trimmed) && !/^\d+\.$/.test(trimmed)) {
    throw invalid(`invalid --cpus ${JSON.stringify(text)}: not a number`, 'for example --cpus 1.5');
  }
  const cpus = Number(trimmed);
  if (!(cpus >= 0.01)) throw invalid(`invalid --cpus ${JSON.stringify(text)}: the minimum is 0.01`);
  return cpus;
}

/** The CFS quota and period for a number of CPUs: 1.5 -> 150000/100000. */
export function cpusToQuota(cpus: number): { quota: number; period: number } {
  return { quota: Math.round(cpus * CPU_PERIOD), period: CPU_PERIOD };
}

/** An integer flag (--cpu-shares, --pids-limit). */
export function parseInteger(text: string, flag: string): number {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) throw invalid(`invalid ${flag} ${JSON.stringify(text)}: not an integer`);
  const value = Number(trimmed);
  if (!Number.isSafeInteger(value)) throw invalid(`invalid ${flag} ${JSON.stringify(text)}: too large`);
  return value;
}

const CPUSET_RE = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** The CPUs named by a cpuset list ("0-2,4" -> [0,1,2,4]); throws on bad syntax or reversed ranges. */
export function parseCpuset(text: string, flag = '--cpuset-cpus'): number[] {
  if (!CPUSET_RE.test(text)) throw invalid(`invalid ${flag} ${JSON.stringify(text)}: expected a list like 0-2,4`);
  const cpus = new Set<number>();
  for (const part of text.split(',')) {
    const [first, last = first] = part.split('-').map(Number) as [number, number?];
    if (last! < first) throw invalid(`invalid ${flag} ${JSON.stringify(text)}: range ${part} is reversed`);
    for (let cpu = first; cpu <= last!; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The special capability name that means every capability. */
export const ALL = 'ALL';

/**
 * A capability name as the CLI accepts it (net_admin, NET_ADMIN,
 * CAP_NET_ADMIN, ALL) in its canonical form (CAP_NET_ADMIN, ALL).
 */
export function normalizeCapability(text: string): string {
  const upper = text.trim().toUpperCase();
  if (upper === ALL) return ALL;
  const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(name)) {
    throw invalid(`unknown capability: ${JSON.stringify(name)}`, 'see capabilities(7) for the names');
  }
  return name;
}

/** A list of capability names, normalized and without duplicates. */
export function normalizeCapabilities(list: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const text of list ?? []) {
    const name = normalizeCapability(text);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

export type SeccompChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'profile'; path: string };

export interface SecurityOptions {
  seccomp: SeccompChoice;
  noNewPrivileges: boolean;
  /** systempaths=unconfined: no masked or read-only paths. */
  unmaskSystemPaths: boolean;
  /** Options accepted but without effect here (apparmor=, label=). */
  ignored: string[];
}

function parseBool(text: string, option: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw invalid(`invalid --security-opt ${JSON.stringify(option)}: expected true or false`);
}

/**
 * --security-opt values: seccomp=unconfined|PATH.json, no-new-privileges
 * (alone, :true/:false or =true/=false), systempaths=unconfined; apparmor=
 * and label= are accepted and ignored (no LSM here).
 */
export function parseSecurityOpts(list: readonly string[] | undefined): SecurityOptions {
  const result: SecurityOptions = {
    seccomp: { kind: 'default' },
    noNewPrivileges: false,
    unmaskSystemPaths: false,
    ignored: [],
  };
  for (const option of list ?? []) {
    if (option === 'no-new-privileges') {
      result.noNewPrivileges = true;
      continue;
    }
    const match = /^([a-z-]+)[=:](.*)$/.exec(option);
    if (match === null) throw invalid(`invalid --security-opt ${JSON.stringify(option)}`, 'expected key=value');
    const [, key, value] = match as unknown as [string, string, string];
    switch (key) {
      case 'no-new-privileges':
        result.noNewPrivileges = parseBool(value, option);
        break;
      case 'seccomp':
        if (value === '') throw invalid(`invalid --security-opt ${JSON.stringify(option)}: no profile`);
        result.seccomp = value === 'unconfined' ? { kind: 'unconfined' } : { kind: 'profile', path: value };
        break;
      case 'systempaths':
        if (value !== 'unconfined') {
          throw invalid(`invalid --security-opt ${JSON.stringify(option)}: only systempaths=unconfined is supported`);
        }
        result.unmaskSystemPaths = true;
        break;
      case 'apparmor':
      case 'label':
        result.ignored.push(option);
        break;
      default:
        throw invalid(`invalid --security-opt ${JSON.stringify(option)}: unknown option ${key}`);
    }
  }
  return result;
}

/** The file a --security-opt seccomp=PATH names, for the caller to read; undefined if none. */
export function seccompProfilePath(list: readonly string[] | undefined): string | undefined {
  const choice = parseSecurityOpts(list).seccomp;
  return choice.kind === 'profile' ? choice.path : undefined;
}

/** A -u/--user value split: user (name or uid) and optional group (name or gid). */
export interface UserSpec {
  user: string;
  group?: string;
}

/** Parses name, uid, uid:gid, name:group, uid:group, name:gid. Empty means root. */
export function parseUserSpec(text: string): UserSpec {
  const trimmed = text.trim();
  if (trimmed === '') return { user: '0' };
  const parts = trimmed.split(':');
  if (parts.length > 2 || parts[0] === '' || (parts.length === 2 && parts[1] === '')) {
    throw invalid(`invalid --user ${JSON.stringify(text)}`, 'expected name, uid, uid:gid or name:group');
  }
  return parts.length === 2 ? { user: parts[0]!, group: parts[1]! } : { user: parts[0]! };
}
