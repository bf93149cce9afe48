/**
 * A tiny classic-BPF interpreter for seccomp filters: runs a program over a
 * struct seccomp_data the way the kernel would, for the instructions the
 * compiler emits. Tests use it to check what a filter decides; --explain can
 * use it to say what would happen to a syscall.
 */
import {
  BPF_ALU_AND_K,
  BPF_JMP_JA,
  BPF_JMP_JEQ_K,
  BPF_JMP_JGE_K,
  BPF_JMP_JGT_K,
  BPF_JMP_JSET_K,
  BPF_LD_W_ABS,
  BPF_RET_K,
  type BpfProgram,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_ARGS,
  SECCOMP_DATA_IP,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ACTION_FULL,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF,
} from './bpf.js';

/** The syscall as the kernel shows it to a filter. Arguments are 64-bit. */
export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  args?: readonly (number | bigint)[];
}

const U64 = (1n << 64n) - 1n;

/** struct seccomp_data, 64 bytes, little-endian. */
export function encodeSeccompData(data: SeccompData): Buffer {
  const buffer = Buffer.alloc(SECCOMP_DATA_ARGS + 6 * 8);
  buffer.writeInt32LE(data.nr | 0, SECCOMP_DATA_NR);
  buffer.writeUInt32LE(data.arch >>> 0, SECCOMP_DATA_ARCH);
  buffer.writeBigUInt64LE((data.instructionPointer ?? 0n) & U64, SECCOMP_DATA_IP);
  (data.args ?? []).slice(0, 6).forEach((arg, index) => {
    buffer.writeBigUInt64LE(BigInt(arg) & U64, SECCOMP_DATA_ARGS + index * 8);
  });
  return buffer;
}

/** Runs a filter and returns its 32-bit verdict. Throws on what the kernel would reject. */
export function runSeccompFilter(program: BpfProgram, data: SeccompData): number {
  const input = encodeSeccompData(data);
  const code = program.instructions;
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= code.length; steps++) {
    const ins = code[pc];
    if (ins === undefined) throw new Error(`bpf: fell off the program at ${pc}`);
    pc += 1;
    switch (ins.code) {
      case BPF_LD_W_ABS:
        if (ins.k + 4 > input.length) throw new Error(`bpf: load at ${ins.k} outside seccomp_data`);
        a = input.readUInt32LE(ins.k);
        break;
      case BPF_ALU_AND_K:
        a = (a & ins.k) >>> 0;
        break;
      case BPF_JMP_JA:
        pc += ins.k;
        break;
      case BPF_JMP_JEQ_K:
        pc += a === ins.k >>> 0 ? ins.jt : ins.jf;
        break;
      case BPF_JMP_JGT_K:
        pc += a > ins.k >>> 0 ? ins.jt : ins.jf;
        break;
      case BPF_JMP_JGE_K:
        pc += a >= ins.k >>> 0 ? ins.jt : ins.jf;
        break;
      case BPF_JMP_JSET_K:
        pc += (a & ins.k) !== 0 ? ins.jt : ins.jf;
        break;
      case BPF_RET_K:
        return ins.k >>> 0;
      default:
        throw new Error(`bpf: unsupported opcode 0x${ins.code.toString(16)} at ${pc - 1}`);
    }
  }
  throw new Error('bpf: no return reached');
}

export type SeccompVerdict =
  | { action: 'allow' }
  | { action: 'errno'; errno: number }
  | { action: 'kill_process' }
  | { action: 'kill_thread' }
  | { action: 'trap'; data: number }
  | { action: 'trace'; data: number }
  | { action: 'log' }
  | { action: 'notify' };

/** A filter's return value in words. */
export function decodeVerdict(ret: number): SeccompVerdict {
  const action = (ret & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = ret & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET_ALLOW:
      return { action: 'allow' };
    case SECCOMP_RET_ERRNO:
      return { action: 'errno', errno: data };
    case SECCOMP_RET_KILL_PROCESS:
      return { action: 'kill_process' };
    case SECCOMP_RET_KILL_THREAD:
      return { action: 'kill_thread' };
    case SECCOMP_RET_TRAP:
      return { action: 'trap', data };
    case SECCOMP_RET_TRACE:
      return { action: 'trace', data };
    case SECCOMP_RET_LOG:
      return { action: 'log' };
    case SECCOMP_RET_USER_NOTIF:
      return { action: 'notify' };
    default:
      // The kernel treats unknown actions as kill-process.
      return { action: 'kill_process' };
  }
}
