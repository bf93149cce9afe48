/**
 * Classic BPF as seccomp uses it: the instruction format (struct
 * sock_filter), the opcodes the compiler emits, the return values, and a
 * small assembler with labels that turns far conditional jumps (more than
 * 255 instructions ahead) into a near jump to an unconditional JA.
 */

/** struct sock_filter: 16-bit opcode, two 8-bit jump offsets, 32-bit constant. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// Opcodes (linux/filter.h, linux/bpf_common.h).
export const BPF_LD_W_ABS = 0x20; // A = *(u32 *)(data + k)
export const BPF_ALU_AND_K = 0x54; // A &= k
export const BPF_JMP_JA = 0x05; // pc += k
export const BPF_JMP_JEQ_K = 0x15; // pc += (A == k) ? jt : jf
export const BPF_JMP_JGT_K = 0x25; // pc += (A > k) ? jt : jf
export const BPF_JMP_JGE_K = 0x35; // pc += (A >= k) ? jt : jf
export const BPF_JMP_JSET_K = 0x45; // pc += (A & k) ? jt : jf
export const BPF_RET_K = 0x06; // return k

/** The kernel refuses longer filters (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

// Return values of a seccomp filter (linux/seccomp.h): action in the high 16 bits, data in the low.
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

// AUDIT_ARCH_* values (linux/audit.h): machine | 64-bit | little-endian.
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;

/** Offsets into struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }. */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_IP = 8;
export const SECCOMP_DATA_ARGS = 16;

/** Size of one struct sock_filter. */
export const SOCK_FILTER_SIZE = 8;

/** A compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER). */
export class BpfProgram {
  constructor(readonly instructions: readonly BpfInstruction[]) {}

  get length(): number {
    return this.instructions.length;
  }

  /** The filter as struct sock_filter[], little-endian, 8 bytes per instruction. */
  toBuffer(): Buffer {
    const buffer = Buffer.alloc(this.instructions.length * SOCK_FILTER_SIZE);
    this.instructions.forEach((ins, index) => {
      const offset = index * SOCK_FILTER_SIZE;
      buffer.writeUInt16LE(ins.code, offset);
      buffer.writeUInt8(ins.jt, offset + 2);
      buffer.writeUInt8(ins.jf, offset + 3);
      buffer.writeUInt32LE(ins.k >>> 0, offset + 4);
    });
    return buffer;
  }

  /** A readable listing, one instruction a line, for --explain and debugging. */
  disassemble(): string {
    return this.instructions.map((ins, pc) => `${String(pc).padStart(4)}: ${describeInstruction(ins, pc)}`).join('\n');
  }
}

/** Reads struct sock_filter[] back (the inverse of toBuffer). */
export function programFromBuffer(buffer: Buffer): BpfProgram {
  const instructions: BpfInstruction[] = [];
  for (let offset = 0; offset + SOCK_FILTER_SIZE <= buffer.length; offset += SOCK_FILTER_SIZE) {
    instructions.push({
      code: buffer.readUInt16LE(offset),
      jt: buffer.readUInt8(offset + 2),
      jf: buffer.readUInt8(offset + 3),
      k: buffer.readUInt32LE(offset + 4),
    });
  }
  return new BpfProgram(instructions);
}

const hex = (value: number): string => `0x${(value >>> 0).toString(16)}`;

function describeInstruction(ins: BpfInstruction, pc: number): string {
  const to = (offset: number): number => pc + 1 + offset;
  switch (ins.code) {
    case BPF_LD_W_ABS:
      return `ld [${ins.k}]`;
    case BPF_ALU_AND_K:
      return `and #${hex(ins.k)}`;
    case BPF_JMP_JA:
      return `ja ${to(ins.k)}`;
    case BPF_JMP_JEQ_K:
      return `jeq #${hex(ins.k)} ? ${to(ins.jt)} : ${to(ins.jf)}`;
    case BPF_JMP_JGT_K:
      return `jgt #${hex(ins.k)} ? ${to(ins.jt)} : ${to(ins.jf)}`;
    case BPF_JMP_JGE_K:
      return `jge #${hex(ins.k)} ? ${to(ins.jt)} : ${to(ins.jf)}`;
    case BPF_JMP_JSET_K:
      return `jset #${hex(ins.k)} ? ${to(ins.jt)} : ${to(ins.jf)}`;
    case BPF_RET_K:
      return `ret #${hex(ins.k)}`;
    default:
      return `op ${hex(ins.code)} jt=${ins.jt} jf=${ins.jf} k=${hex(ins.k)}`;
  }
}

/**
 * Checks what the kernel's filter checker checks for the instructions we
 * emit: known opcodes, jumps forward and inside the program, a return at
 * the end, loads inside seccomp_data, at most BPF_MAXINSNS instructions.
 * Returns the problems found (none for a good program).
 */
export function checkProgram(program: BpfProgram): string[] {
  const problems: string[] = [];
  const ins = program.instructions;
  if (ins.length === 0) problems.push('empty program');
  if (ins.length > BPF_MAXINSNS) problems.push(`${ins.length} instructions, more than ${BPF_MAXINSNS}`);
  ins.forEach((i, pc) => {
    const inside = (offset: number): boolean => pc + 1 + offset < ins.length;
    switch (i.code) {
      case BPF_LD_W_ABS:
        if (i.k % 4 !== 0 || i.k > 60) problems.push(`${pc}: load outside seccomp_data`);
        break;
      case BPF_ALU_AND_K:
      case BPF_RET_K:
        break;
      case BPF_JMP_JA:
        if (!inside(i.k)) problems.push(`${pc}: ja out of the program`);
        break;
      case BPF_JMP_JEQ_K:
      case BPF_JMP_JGT_K:
      case BPF_JMP_JGE_K:
      case BPF_JMP_JSET_K:
        if (!inside(i.jt) || !inside(i.jf)) problems.push(`${pc}: jump out of the program`);
        if (i.jt > 255 || i.jf > 255) problems.push(`${pc}: jump offset over 255`);
        break;
      default:
        problems.push(`${pc}: unknown opcode ${hex(i.code)}`);
    }
  });
  const last = ins[ins.length - 1];
  if (last !== undefined && last.code !== BPF_RET_K) problems.push('the last instruction is not a return');
  return problems;
}

/** A jump target: a label's name, or undefined for the next instruction. */
export type Target = string | undefined;

type Item =
  | { kind: 'op'; code: number; k: number }
  | { kind: 'jump'; code: number; k: number; jt: Target; jf: Target; longT: boolean; longF: boolean }
  | { kind: 'ja'; target: string }
  | { kind: 'label'; name: string };

/**
 * Builds a program from instructions and labels. Conditional jumps name their
 * targets by label; `assemble` places them and, for targets too far for the
 * 8-bit offsets, inserts a JA right after the jump and points the jump at it.
 */
export class Assembler {
  private readonly items: Item[] = [];
  private counter = 0;

  /** A fresh label name with a readable prefix. */
  newLabel(prefix: string): string {
    return `${prefix}#${this.counter++}`;
  }

  label(name: string): this {
    this.items.push({ kind: 'label', name });
    return this;
  }

  load(offset: number): this {
    this.items.push({ kind: 'op', code: BPF_LD_W_ABS, k: offset });
    return this;
  }

  and(mask: number): this {
    this.items.push({ kind: 'op', code: BPF_ALU_AND_K, k: mask >>> 0 });
    return this;
  }

  ret(value: number): this {
    this.items.push({ kind: 'op', code: BPF_RET_K, k: value >>> 0 });
    return this;
  }

  jump(code: number, k: number, jt: Target, jf: Target): this {
    this.items.push({ kind: 'jump', code, k: k >>> 0, jt, jf, longT: false, longF: false });
    return this;
  }

  jeq(k: number, jt: Target, jf: Target): this {
    return this.jump(BPF_JMP_JEQ_K, k, jt, jf);
  }

  jgt(k: number, jt: Target, jf: Target): this {
    return this.jump(BPF_JMP_JGT_K, k, jt, jf);
  }

  jge(k: number, jt: Target, jf: Target): this {
    return this.jump(BPF_JMP_JGE_K, k, jt, jf);
  }

  jset(k: number, jt: Target, jf: Target): this {
    return this.jump(BPF_JMP_JSET_K, k, jt, jf);
  }

  ja(target: string): this {
    this.items.push({ kind: 'ja', target });
    return this;
  }

  assemble(): BpfProgram {
    // Lay out, widen the jumps that do not fit, repeat: widening only ever
    // moves code further, so this settles after a few rounds.
    for (;;) {
      const { positions, labels } = this.layout();
      let widened = false;
      this.items.forEach((item, index) => {
        if (item.kind !== 'jump') return;
        const end = positions[index]! + 1;
        const far = (target: Target): boolean => target !== undefined && this.resolve(labels, target) - end > 255;
        if (!item.longT && far(item.jt)) {
          item.longT = true;
          widened = true;
        }
        if (!item.longF && far(item.jf)) {
          item.longF = true;
          widened = true;
        }
      });
      if (!widened) return this.emit(positions, labels);
    }
  }

  private size(item: Item): number {
    if (item.kind === 'label') return 0;
    if (item.kind === 'jump') return 1 + (item.longT ? 1 : 0) + (item.longF ? 1 : 0);
    return 1;
  }

  private layout(): { positions: number[]; labels: Map<string, number> } {
    const positions: number[] = [];
    const labels = new Map<string, number>();
    let pc = 0;
    for (const item of this.items) {
      positions.push(pc);
      if (item.kind === 'label') {
        if (labels.has(item.name)) throw new Error(`bpf assembler: label ${item.name} defined twice`);
        labels.set(item.name, pc);
      }
      pc += this.size(item);
    }
    return { positions, labels };
  }

  private resolve(labels: Map<string, number>, name: string): number {
    const pc = labels.get(name);
    if (pc === undefined) throw new Error(`bpf assembler: label ${name} is not defined`);
    return pc;
  }

  private emit(positions: number[], labels: Map<string, number>): BpfProgram {
    const out: BpfInstruction[] = [];
    this.items.forEach((item, index) => {
      const pc = positions[index]!;
      const next = pc + this.size(item);
      const offset = (from: number, target: Target): number => {
        const to = target === undefined ? next : this.resolve(labels, target);
        const delta = to - (from + 1);
        if (delta < 0) throw new Error(`bpf assembler: backward jump to ${target ?? 'next'}`);
        return delta;
      };
      switch (item.kind) {
        case 'label':
          return;
        case 'op':
          out.push({ code: item.code, jt: 0, jf: 0, k: item.k });
          return;
        case 'ja':
          out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: offset(pc, item.target) });
          return;
        case 'jump': {
          // Far targets go through a JA placed right after the jump: first the
          // one for jt, then the one for jf.
          const trampolineT = pc + 1;
          const trampolineF = pc + 1 + (item.longT ? 1 : 0);
          const jt = item.longT ? trampolineT - (pc + 1) : offset(pc, item.jt);
          const jf = item.longF ? trampolineF - (pc + 1) : offset(pc, item.jf);
          out.push({ code: item.code, jt, jf, k: item.k });
          if (item.longT) out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: offset(trampolineT, item.jt) });
          if (item.longF) out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: offset(trampolineF, item.jf) });
          return;
        }
      }
    });
    return new BpfProgram(out);
  }
}
