/**
 * Seccomp profiles in Docker's format (what `--security-opt seccomp=FILE`
 * reads): a default action and rules that may apply only on some
 * architectures, with some capabilities, or without them. `resolveProfile`
 * turns such a profile into the OCI `LinuxSeccomp` of one container (its
 * architecture and capabilities fixed), which goes into config.json and is
 * what the compiler reads.
 */
import { EngineError } from '../../common/index.js';
import type {
  LinuxSeccomp,
  LinuxSeccompAction,
  LinuxSeccompArchName,
  LinuxSeccompArg,
  LinuxSyscall,
} from '../types.js';
import type { SeccompArch } from './syscalls.js';

/** A condition on a rule: it applies only if all that is listed holds. */
export interface ProfileFilter {
  /** Architectures in Go's names (amd64, arm64, x86, arm, ...). */
  arches?: string[] | null;
  /** Capabilities (CAP_SYS_ADMIN); includes: all of them held; excludes: any of them held. */
  caps?: string[] | null;
  /** Minimum kernel version ("4.8"). */
  minKernel?: string | null;
}

export interface ProfileRule {
  names?: string[] | null;
  /** Old profiles name one syscall per rule. */
  name?: string;
  action: LinuxSeccompAction;
  errnoRet?: number | null;
  args?: LinuxSeccompArg[] | null;
  comment?: string;
  includes?: ProfileFilter | null;
  excludes?: ProfileFilter | null;
}

export interface SeccompProfile {
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number | null;
  architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  syscalls?: ProfileRule[] | null;
}

/** Our architecture names as Go (and Docker's profiles) spell them. */
const GO_ARCH: Record<SeccompArch, string> = { x86_64: 'amd64', aarch64: 'arm64' };
/** Our architecture names as libseccomp (and OCI) spell them. */
export const SCMP_ARCH: Record<SeccompArch, LinuxSeccompArchName> = {
  x86_64: 'SCMP_ARCH_X86_64',
  aarch64: 'SCMP_ARCH_AARCH64',
};

export const SECCOMP_ACTIONS: readonly LinuxSeccompAction[] = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
];

export const SECCOMP_OPERATORS: readonly string[] = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
];

export interface ResolveOptions {
  arch: SeccompArch;
  /** The container's capabilities (CAP_ names). */
  caps: readonly string[];
  /** The running kernel's version ("6.1.0"); absent means every minKernel is met. */
  kernel?: string;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function archMatches(arches: string[], arch: SeccompArch): boolean {
  return arches.includes(GO_ARCH[arch]) || arches.includes(arch) || arches.includes(SCMP_ARCH[arch]);
}

function ruleApplies(rule: ProfileRule, options: ResolveOptions): boolean {
  const inc = rule.includes ?? {};
  if (inc.arches && inc.arches.length > 0 && !archMatches(inc.arches, options.arch)) return false;
  if (inc.caps && inc.caps.length > 0 && !inc.caps.every((cap) => options.caps.includes(cap))) return false;
  if (inc.minKernel && options.kernel !== undefined && compareVersions(options.kernel, inc.minKernel) < 0) return false;
  const exc = rule.excludes ?? {};
  if (exc.arches && exc.arches.length > 0 && archMatches(exc.arches, options.arch)) return false;
  if (exc.caps && exc.caps.some((cap) => options.caps.includes(cap))) return false;
  if (exc.minKernel && options.kernel !== undefined && compareVersions(options.kernel, exc.minKernel) >= 0) return false;
  return true;
}

function invalidProfile(message: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', `load seccomp profile: ${message}`);
}

/**
 * The OCI seccomp section of one container from a Docker-format profile:
 * only the rules that apply to its architecture, capabilities and kernel,
 * for the container's own architecture.
 */
export function resolveProfile(profile: SeccompProfile, options: ResolveOptions): LinuxSeccomp {
  if (!SECCOMP_ACTIONS.includes(profile.defaultAction)) {
    throw invalidProfile(`unknown default action ${JSON.stringify(profile.defaultAction)}`);
  }
  const syscalls: LinuxSyscall[] = [];
  for (const [index, rule] of (profile.syscalls ?? []).entries()) {
    const names = rule.names && rule.names.length > 0 ? rule.names : rule.name ? [rule.name] : [];
    if (names.length === 0) throw invalidProfile(`rule ${index} names no syscall`);
    if (!SECCOMP_ACTIONS.includes(rule.action)) {
      throw invalidProfile(`rule ${index} (${names[0]}): unknown action ${JSON.stringify(rule.action)}`);
    }
    if (!ruleApplies(rule, options)) continue;
    const out: LinuxSyscall = { names: [...names], action: rule.action };
    if (rule.errnoRet !== undefined && rule.errnoRet !== null) out.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0) out.args = rule.args.map((arg) => ({ ...arg }));
    syscalls.push(out);
  }
  const seccomp: LinuxSeccomp = {
    defaultAction: profile.defaultAction,
    architectures: [SCMP_ARCH[options.arch]],
    syscalls,
  };
  if (profile.defaultErrnoRet !== undefined && profile.defaultErrnoRet !== null) {
    seccomp.defaultErrnoRet = profile.defaultErrnoRet;
  }
  return seccomp;
}

/** Parses the text of a Docker-format profile file, checking its shape. */
export function parseProfile(text: string, source = 'profile'): SeccompProfile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EngineError('INVALID_ARGUMENT', `load seccomp profile ${source}: not valid JSON`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EngineError('INVALID_ARGUMENT', `load seccomp profile ${source}: not a JSON object`);
  }
  const profile = value as SeccompProfile;
  if (typeof profile.defaultAction !== 'string') {
    throw new EngineError('INVALID_ARGUMENT', `load seccomp profile ${source}: defaultAction is missing`);
  }
  if (profile.syscalls !== undefined && profile.syscalls !== null && !Array.isArray(profile.syscalls)) {
    throw new EngineError('INVALID_ARGUMENT', `load seccomp profile ${source}: syscalls is not a list`);
  }
  return profile;
}
