/**
 * The seccomp compiler: an OCI `LinuxSeccomp` (or a Docker-format profile,
 * resolved first for the container's capabilities) -> a classic BPF program
 * for seccomp(SECCOMP_SET_MODE_FILTER).
 *
 * The program's shape:
 *   1. load the audit architecture; any other than ours -> kill the process;
 *   2. load the syscall number; on x86_64 an x32 number (bit 30) -> default;
 *      a number above every syscall the profile names -> ENOSYS (as runc does,
 *      so that libcs fall back from syscalls newer than the profile);
 *   3. a binary search over the numbers the rules name, ending in small
 *      leaves of JEQs, each syscall jumping to its action's RET or to a body
 *      that checks argument conditions (64-bit compares, two 32-bit halves);
 *   4. anything else -> the default action.
 */
import { EngineError } from '../../common/index.js';
import type { LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg } from '../types.js';
import {
  Assembler,
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_X86_64,
  BPF_MAXINSNS,
  type BpfProgram,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_ARGS,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
  type Target,
} from './bpf.js';
import { resolveProfile, SECCOMP_OPERATORS, type SeccompProfile } from './profile.js';
import { type SeccompArch, syscallNumber } from './syscalls.js';

export const EPERM = 1;
export const ENOSYS = 38;

/** The x32 ABI marks its syscall numbers with this bit (x86_64 only). */
export const X32_SYSCALL_BIT = 0x40000000;

const AUDIT_ARCH: Record<SeccompArch, number> = { x86_64: AUDIT_ARCH_X86_64, aarch64: AUDIT_ARCH_AARCH64 };

/** The architecture of this machine in the compiler's terms. */
export function hostSeccompArch(): SeccompArch {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'aarch64';
  throw new EngineError('NOT_IMPLEMENTED', `compile seccomp filter: architecture ${process.arch} is not supported`);
}

export interface CompileOptions {
  /** The architecture to compile for; default this machine's. */
  arch?: SeccompArch;
  /** The container's capabilities, used only for a Docker-format profile's includes/excludes. */
  caps?: readonly string[];
}

function invalid(message: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', `compile seccomp filter: ${message}`);
}

/** The 32-bit value a filter returns for an action. */
export function actionReturn(action: LinuxSeccompAction, errnoRet: number | undefined): number {
  const errno = (errnoRet ?? EPERM) & SECCOMP_RET_DATA;
  switch (action) {
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET_ALLOW;
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET_ERRNO | errno) >>> 0;
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET_KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET_TRAP;
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET_TRACE | errno) >>> 0;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET_LOG;
    case 'SCMP_ACT_NOTIFY':
      throw new EngineError('NOT_IMPLEMENTED', 'compile seccomp filter: SCMP_ACT_NOTIFY needs a notify listener');
    default:
      throw invalid(`unknown action ${JSON.stringify(action)}`);
  }
}

interface ConditionalRule {
  args: LinuxSeccompArg[];
  ret: number;
}

/** What the filter does for one syscall number: conditional rules in order, then the fallback. */
interface SyscallPlan {
  nr: number;
  conditional: ConditionalRule[];
  /** The RET of the rule without conditions, if any. */
  unconditional?: number;
}

function isDockerProfile(value: LinuxSeccomp | SeccompProfile): value is SeccompProfile {
  return (value.syscalls ?? []).some(
    (rule) => rule !== null && typeof rule === 'object' && ('includes' in rule || 'excludes' in rule || 'name' in rule),
  ) || 'archMap' in value;
}

function checkArg(arg: LinuxSeccompArg, syscall: string): void {
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) {
    throw invalid(`${syscall}: argument index ${arg.index} is not 0..5`);
  }
  if (!SECCOMP_OPERATORS.includes(arg.op)) throw invalid(`${syscall}: unknown operator ${JSON.stringify(arg.op)}`);
  for (const value of [arg.value, arg.valueTwo ?? 0]) {
    if (!Number.isInteger(value) || value < 0 || value > Number.MAX_SAFE_INTEGER) {
      throw invalid(`${syscall}: argument value ${value} is not an unsigned integer`);
    }
  }
}

/** Groups the rules by syscall number for one architecture; names unknown there are skipped, as runc does. */
function planSyscalls(seccomp: LinuxSeccomp, arch: SeccompArch): SyscallPlan[] {
  const plans = new Map<number, SyscallPlan>();
  for (const rule of seccomp.syscalls ?? []) {
    if (!Array.isArray(rule.names) || rule.names.length === 0) throw invalid('a rule names no syscall');
    const ret = actionReturn(rule.action, rule.errnoRet);
    for (const arg of rule.args ?? []) checkArg(arg, rule.names[0]!);
    for (const name of rule.names) {
      const nr = syscallNumber(arch, name);
      if (nr === undefined) continue;
      let plan = plans.get(nr);
      if (plan === undefined) {
        plan = { nr, conditional: [] };
        plans.set(nr, plan);
      }
      if (rule.args && rule.args.length > 0) plan.conditional.push({ args: rule.args, ret });
      else if (plan.unconditional === undefined) plan.unconditional = ret;
    }
  }
  return [...plans.values()].sort((a, b) => a.nr - b.nr);
}

const hi32 = (value: number): number => Math.floor(value / 2 ** 32) >>> 0;
const lo32 = (value: number): number => value >>> 0;

/**
 * Emits the check of one 64-bit argument condition: falls through when it
 * holds, jumps to `fail` when not. The high word is compared first, then
 * the low word.
 */
function emitArgCheck(asm: Assembler, arg: LinuxSeccompArg, fail: string): void {
  const pass = asm.newLabel('pass');
  const lowWord = SECCOMP_DATA_ARGS + arg.index * 8; // little-endian: low half first
  const highWord = lowWord + 4;
  const v = { hi: hi32(arg.value), lo: lo32(arg.value) };
  const onHighEqual = asm.newLabel('hi-equal');
  asm.load(highWord);
  switch (arg.op) {
    case 'SCMP_CMP_EQ':
      asm.jeq(v.hi, undefined, fail).load(lowWord).jeq(v.lo, pass, fail);
      break;
    case 'SCMP_CMP_NE':
      asm.jeq(v.hi, undefined, pass).load(lowWord).jeq(v.lo, fail, pass);
      break;
    case 'SCMP_CMP_MASKED_EQ': {
      const want = arg.valueTwo ?? 0;
      asm.and(v.hi).jeq(hi32(want), undefined, fail).load(lowWord).and(v.lo).jeq(lo32(want), pass, fail);
      break;
    }
    case 'SCMP_CMP_GT':
      asm.jgt(v.hi, pass, undefined).jeq(v.hi, onHighEqual, fail).label(onHighEqual);
      asm.load(lowWord).jgt(v.lo, pass, fail);
      break;
    case 'SCMP_CMP_GE':
      asm.jgt(v.hi, pass, undefined).jeq(v.hi, onHighEqual, fail).label(onHighEqual);
      asm.load(lowWord).jge(v.lo, pass, fail);
      break;
    case 'SCMP_CMP_LT':
      asm.jgt(v.hi, fail, undefined).jeq(v.hi, onHighEqual, pass).label(onHighEqual);
      asm.load(lowWord).jge(v.lo, fail, pass);
      break;
    case 'SCMP_CMP_LE':
      asm.jgt(v.hi, fail, undefined).jeq(v.hi, onHighEqual, pass).label(onHighEqual);
      asm.load(lowWord).jgt(v.lo, fail, pass);
      break;
  }
  asm.label(pass);
}

/** Syscall numbers handled by one leaf of the search tree. */
const LEAF_SIZE = 8;

function emitLeaf(asm: Assembler, plans: SyscallPlan[], defaultRet: number): void {
  const retLabels = new Map<number, string>();
  const bodies: { label: string; plan: SyscallPlan }[] = [];
  for (const plan of plans) {
    let target: string;
    if (plan.conditional.length === 0) {
      const ret = plan.unconditional!;
      target = retLabels.get(ret) ?? asm.newLabel(`ret-${ret.toString(16)}`);
      retLabels.set(ret, target);
    } else {
      target = asm.newLabel(`nr-${plan.nr}`);
      bodies.push({ label: target, plan });
    }
    asm.jeq(plan.nr, target, undefined);
  }
  asm.ret(defaultRet);
  for (const [ret, label] of retLabels) asm.label(label).ret(ret);
  for (const { label, plan } of bodies) {
    asm.label(label);
    for (const rule of plan.conditional) {
      const nextRule = asm.newLabel('next-rule');
      for (const arg of rule.args) emitArgCheck(asm, arg, nextRule);
      asm.ret(rule.ret);
      asm.label(nextRule);
    }
    asm.ret(plan.unconditional ?? defaultRet);
  }
}

/** A binary search over sorted syscall numbers: JGE splits, leaves of JEQs. The accumulator holds nr. */
function emitTree(asm: Assembler, plans: SyscallPlan[], defaultRet: number): void {
  if (plans.length <= LEAF_SIZE) {
    emitLeaf(asm, plans, defaultRet);
    return;
  }
  const middle = plans.length >> 1;
  const right = asm.newLabel('upper');
  asm.jge(plans[middle]!.nr, right, undefined);
  emitTree(asm, plans.slice(0, middle), defaultRet);
  asm.label(right);
  emitTree(asm, plans.slice(middle), defaultRet);
}

/**
 * Compiles a seccomp policy into a BPF program. Accepts the OCI form (what
 * config.json holds) or a Docker-format profile (resolved first with
 * `options.caps`).
 */
export function compileSeccomp(policy: LinuxSeccomp | SeccompProfile, options: CompileOptions = {}): BpfProgram {
  const arch = options.arch ?? hostSeccompArch();
  const seccomp = isDockerProfile(policy)
    ? resolveProfile(policy, { arch, caps: options.caps ?? [] })
    : (policy as LinuxSeccomp);
  const defaultRet = actionReturn(seccomp.defaultAction, seccomp.defaultErrnoRet);
  const plans = planSyscalls(seccomp, arch);

  const asm = new Assembler();
  const archOk = asm.newLabel('arch-ok');
  asm.load(SECCOMP_DATA_ARCH).jeq(AUDIT_ARCH[arch], archOk, undefined).ret(SECCOMP_RET_KILL_PROCESS);
  asm.label(archOk).load(SECCOMP_DATA_NR);
  if (arch === 'x86_64') {
    const native = asm.newLabel('native-abi');
    asm.jset(X32_SYSCALL_BIT, undefined, native).ret(defaultRet).label(native);
  }
  const lastNamed = plans.length > 0 ? plans[plans.length - 1]!.nr : -1;
  const denying = defaultRet !== SECCOMP_RET_ALLOW && defaultRet !== SECCOMP_RET_LOG;
  if (denying && lastNamed >= 0) {
    const known = asm.newLabel('known');
    asm.jgt(lastNamed, undefined, known).ret((SECCOMP_RET_ERRNO | ENOSYS) >>> 0).label(known);
  }
  emitTree(asm, plans, defaultRet);

  const program = asm.assemble();
  if (program.length > BPF_MAXINSNS) {
    throw invalid(`the filter has ${program.length} instructions, the kernel takes at most ${BPF_MAXINSNS}`);
  }
  return program;
}
