import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEngineError } from '../../common/index.js';
import { DEFAULT_CAPABILITIES } from '../defaults.js';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSeccompOperator } from '../types.js';
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_X86_64,
  BPF_JMP_JA,
  type BpfProgram,
  checkProgram,
  programFromBuffer,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_KILL_PROCESS,
} from './bpf.js';
import { actionReturn, compileSeccomp, ENOSYS, EPERM } from './compile.js';
import { CLONE_NAMESPACE_FLAGS, defaultSeccompProfile } from './default-profile.js';
import { decodeVerdict, runSeccompFilter, type SeccompVerdict } from './interpret.js';
import { resolveProfile } from './profile.js';
import { type SeccompArch, syscallNumber, syscallTable } from './syscalls.js';

const AUDIT: Record<SeccompArch, number> = { x86_64: AUDIT_ARCH_X86_64, aarch64: AUDIT_ARCH_AARCH64 };
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNS = 0x00020000;
const SIGCHLD = 17;
const PTHREAD_CLONE_FLAGS = 0x3d0f00; // VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID

function nr(arch: SeccompArch, name: string): number {
  const value = syscallNumber(arch, name);
  assert.ok(value !== undefined, `no ${name} on ${arch}`);
  return value;
}

function verdict(program: BpfProgram, arch: SeccompArch, name: string, args: (number | bigint)[] = []): SeccompVerdict {
  return decodeVerdict(runSeccompFilter(program, { nr: nr(arch, name), arch: AUDIT[arch], args }));
}

const ALLOW: SeccompVerdict = { action: 'allow' };
const DENY: SeccompVerdict = { action: 'errno', errno: EPERM };
const NOSYS: SeccompVerdict = { action: 'errno', errno: ENOSYS };

/** An independent model of what the filter must return, with 64-bit arithmetic in bigint. */
function model(seccomp: LinuxSeccomp, arch: SeccompArch): (data: { nr: number; arch: number; args: bigint[] }) => number {
  const defaultRet = actionReturn(seccomp.defaultAction, seccomp.defaultErrnoRet);
  const table = syscallTable(arch);
  const rules = (seccomp.syscalls ?? []).map((rule) => ({ ...rule, numbers: rule.names.map((n) => table.get(n)) }));
  const last = Math.max(-1, ...rules.flatMap((rule) => rule.numbers).filter((n) => n !== undefined));
  return (data) => {
    if (data.arch !== AUDIT[arch]) return SECCOMP_RET_KILL_PROCESS;
    if (arch === 'x86_64' && data.nr & 0x40000000) return defaultRet;
    if (defaultRet !== SECCOMP_RET_ALLOW && last >= 0 && data.nr > last) return (0x50000 | ENOSYS) >>> 0;
    const holds = (arg: LinuxSeccompArg): boolean => {
      const value = data.args[arg.index] ?? 0n;
      const k = BigInt(arg.value);
      switch (arg.op) {
        case 'SCMP_CMP_EQ':
          return value === k;
        case 'SCMP_CMP_NE':
          return value !== k;
        case 'SCMP_CMP_LT':
          return value < k;
        case 'SCMP_CMP_LE':
          return value <= k;
        case 'SCMP_CMP_GT':
          return value > k;
        case 'SCMP_CMP_GE':
          return value >= k;
        case 'SCMP_CMP_MASKED_EQ':
          return (value & k) === BigInt(arg.valueTwo ?? 0);
      }
    };
    const mine = rules.filter((rule) => rule.numbers.includes(data.nr));
    for (const rule of mine) {
      if (rule.args && rule.args.length > 0 && rule.args.every(holds)) return actionReturn(rule.action, rule.errnoRet);
    }
    const plain = mine.find((rule) => !rule.args || rule.args.length === 0);
    return plain ? actionReturn(plain.action, plain.errnoRet) : defaultRet;
  };
}

function expected(seccomp: LinuxSeccomp, arch: SeccompArch, data: { nr: number; arch: number; args: bigint[] }): number {
  return model(seccomp, arch)(data);
}

for (const arch of ['x86_64', 'aarch64'] as const) {
  describe(`compileSeccomp, Docker's default profile, ${arch}`, () => {
    const profile = defaultSeccompProfile();
    const caps = [...DEFAULT_CAPABILITIES];
    const program = compileSeccomp(profile, { arch, caps });
    const withAdmin = compileSeccomp(profile, { arch, caps: [...caps, 'CAP_SYS_ADMIN'] });

    it('is a valid filter well under the kernel limit', () => {
      assert.deepEqual(checkProgram(program), []);
      assert.ok(program.length < 4096, `${program.length} instructions`);
      assert.ok(program.length < 1000, `${program.length} instructions`);
    });

    it('allows ordinary syscalls', () => {
      for (const name of ['read', 'write', 'openat', 'execve', 'exit_group', 'futex', 'mmap', 'chroot']) {
        assert.deepEqual(verdict(program, arch, name), ALLOW, name);
      }
    });

    it('denies mount, unshare, setns, reboot and module loading with EPERM', () => {
      for (const name of ['mount', 'umount2', 'unshare', 'setns', 'reboot', 'init_module', 'bpf', 'kexec_load']) {
        assert.deepEqual(verdict(program, arch, name), DENY, name);
      }
    });

    it('allows mount and unshare with CAP_SYS_ADMIN', () => {
      assert.deepEqual(verdict(withAdmin, arch, 'mount'), ALLOW);
      assert.deepEqual(verdict(withAdmin, arch, 'unshare', [CLONE_NEWUSER]), ALLOW);
      assert.deepEqual(verdict(withAdmin, arch, 'clone', [CLONE_NEWUSER | SIGCHLD]), ALLOW);
      assert.deepEqual(verdict(withAdmin, arch, 'clone3'), ALLOW);
    });

    it('allows a plain clone but denies one with namespace flags', () => {
      assert.deepEqual(verdict(program, arch, 'clone', [SIGCHLD]), ALLOW);
      assert.deepEqual(verdict(program, arch, 'clone', [PTHREAD_CLONE_FLAGS]), ALLOW);
      assert.deepEqual(verdict(program, arch, 'clone', [CLONE_NEWUSER | SIGCHLD]), DENY);
      assert.deepEqual(verdict(program, arch, 'clone', [CLONE_NEWNS]), DENY);
      assert.deepEqual(verdict(program, arch, 'clone', [CLONE_NAMESPACE_FLAGS]), DENY);
      // The high half of the argument is outside the mask: ignored.
      assert.deepEqual(verdict(program, arch, 'clone', [(1n << 40n) | BigInt(SIGCHLD)]), ALLOW);
    });

    it('answers clone3 with ENOSYS so that libc falls back to clone', () => {
      assert.deepEqual(verdict(program, arch, 'clone3'), NOSYS);
    });

    it('allows only the listed personality values, compared on all 64 bits', () => {
      for (const value of [0, 8, 0x20000, 0x20008, 0xffffffff]) {
        assert.deepEqual(verdict(program, arch, 'personality', [value]), ALLOW, String(value));
      }
      for (const value of [1, 0x40000, 0x0400000, 2 ** 32]) {
        assert.deepEqual(verdict(program, arch, 'personality', [value]), DENY, String(value));
      }
    });

    it('refuses AF_VSOCK sockets only', () => {
      assert.deepEqual(verdict(program, arch, 'socket', [2, 1, 0]), ALLOW);
      assert.deepEqual(verdict(program, arch, 'socket', [40, 1, 0]), DENY);
    });

    it('gates ptrace-like calls as Docker does on kernels >= 4.8', () => {
      assert.deepEqual(verdict(program, arch, 'ptrace'), ALLOW);
      assert.deepEqual(verdict(program, arch, 'kcmp'), DENY);
      const ptracer = compileSeccomp(profile, { arch, caps: [...caps, 'CAP_SYS_PTRACE'] });
      assert.deepEqual(verdict(ptracer, arch, 'kcmp'), ALLOW);
      const oldKernel = compileSeccomp(resolveProfile(profile, { arch, caps, kernel: '4.4.0' }), { arch });
      assert.deepEqual(verdict(oldKernel, arch, 'ptrace'), DENY);
    });

    it('kills a process calling with another architecture', () => {
      const other = arch === 'x86_64' ? AUDIT_ARCH_AARCH64 : AUDIT_ARCH_X86_64;
      const ret = runSeccompFilter(program, { nr: nr(arch, 'read'), arch: other });
      assert.deepEqual(decodeVerdict(ret), { action: 'kill_process' });
      assert.deepEqual(decodeVerdict(runSeccompFilter(program, { nr: 0, arch: 0x40000003 })), { action: 'kill_process' });
    });

    it('answers syscalls newer than the profile with ENOSYS, unknown older ones with EPERM', () => {
      const last = Math.max(...[...syscallTable(arch).values()]);
      assert.deepEqual(decodeVerdict(runSeccompFilter(program, { nr: last + 1, arch: AUDIT[arch] })), NOSYS);
      assert.deepEqual(decodeVerdict(runSeccompFilter(program, { nr: 1000, arch: AUDIT[arch] })), NOSYS);
      // A number inside the table's range that no syscall has.
      const used = new Set(syscallTable(arch).values());
      let hole = 0;
      while (used.has(hole)) hole++;
      assert.deepEqual(decodeVerdict(runSeccompFilter(program, { nr: hole, arch: AUDIT[arch] })), DENY);
    });

    it('agrees with an independent model for every syscall number', () => {
      const predict = model(resolveProfile(profile, { arch, caps }), arch);
      const samples: bigint[][] = [[], [0n], [8n], [40n], [BigInt(CLONE_NEWUSER)], [0xffffffffn], [1n << 33n]];
      for (let number = 0; number < 470; number++) {
        for (const args of samples) {
          const data = { nr: number, arch: AUDIT[arch], args };
          assert.equal(runSeccompFilter(program, data), predict(data), `nr ${number} args ${args}`);
        }
      }
    });
  });
}

describe('compileSeccomp details', () => {
  it('denies x32 syscalls on x86_64', () => {
    const program = compileSeccomp(defaultSeccompProfile(), { arch: 'x86_64', caps: [] });
    const ret = runSeccompFilter(program, { nr: 0x40000000 | 0, arch: AUDIT_ARCH_X86_64 });
    assert.deepEqual(decodeVerdict(ret), DENY);
  });

  it('serializes to struct sock_filter[] little-endian, 8 bytes each', () => {
    const program = compileSeccomp(defaultSeccompProfile(), { arch: 'x86_64', caps: [] });
    const buffer = program.toBuffer();
    assert.equal(buffer.length, program.length * 8);
    // ld [4]: code 0x20, jt 0, jf 0, k 4
    assert.deepEqual([...buffer.subarray(0, 8)], [0x20, 0, 0, 0, 4, 0, 0, 0]);
    // jeq AUDIT_ARCH_X86_64
    assert.deepEqual([...buffer.subarray(12, 16)], [0x3e, 0x00, 0x00, 0xc0]);
    assert.deepEqual(programFromBuffer(buffer).instructions, program.instructions);
    assert.match(program.disassemble(), /^ {3}0: ld \[4\]\n {3}1: jeq #0xc000003e/);
  });

  it('turns far conditional jumps into JA trampolines and stays correct', () => {
    // Every syscall allowed only when its first argument equals its number:
    // bodies big enough that the search tree's jumps exceed 255.
    const names = [...syscallTable('x86_64').keys()].filter((_, index) => index % 2 === 0);
    const seccomp: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: names.map((name) => ({
        names: [name],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, value: syscallNumber('x86_64', name)!, op: 'SCMP_CMP_EQ' },
          { index: 5, value: 7, op: 'SCMP_CMP_NE' },
        ],
      })),
    };
    const program = compileSeccomp(seccomp, { arch: 'x86_64' });
    assert.deepEqual(checkProgram(program), []);
    assert.ok(program.instructions.some((ins) => ins.code === BPF_JMP_JA), 'no long jump was needed');
    for (const name of [names[0]!, names[10]!, names[100]!, names[names.length - 1]!]) {
      const number = nr('x86_64', name);
      assert.deepEqual(verdict(program, 'x86_64', name, [number]), ALLOW, name);
      assert.deepEqual(verdict(program, 'x86_64', name, [number + 1]), DENY, name);
      assert.deepEqual(verdict(program, 'x86_64', name, [number, 0, 0, 0, 0, 7]), DENY, name);
    }
  });

  it('refuses a filter longer than the kernel takes', () => {
    const seccomp: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [...syscallTable('x86_64').keys()].map((name) => ({
        names: [name],
        action: 'SCMP_ACT_ALLOW',
        args: [0, 1, 2].map((index) => ({ index, value: 2 ** 40 + index, op: 'SCMP_CMP_GE' as const })),
      })),
    };
    assert.throws(() => compileSeccomp(seccomp, { arch: 'x86_64' }), /at most 4096/);
  });

  it('compares 64-bit arguments with every operator like the model does', () => {
    const ops: LinuxSeccompOperator[] = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GT', 'SCMP_CMP_GE'];
    const constants = [0, 5, 0xffffffff, 2 ** 32, 2 ** 32 + 5, 2 ** 40];
    const values = [0n, 4n, 5n, 6n, 0xffffffffn, 1n << 32n, (1n << 32n) + 4n, (1n << 32n) + 5n, (1n << 32n) + 6n, 1n << 40n, (1n << 64n) - 1n];
    for (const op of ops) {
      for (const value of constants) {
        const seccomp: LinuxSeccomp = {
          defaultAction: 'SCMP_ACT_ERRNO',
          syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 2, value, op }] }],
        };
        const program = compileSeccomp(seccomp, { arch: 'x86_64' });
        for (const arg of values) {
          const data = { nr: 0, arch: AUDIT_ARCH_X86_64, args: [0n, 0n, arg] };
          assert.equal(runSeccompFilter(program, data), expected(seccomp, 'x86_64', data), `${op} ${value} vs ${arg}`);
        }
      }
    }
    const masked: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 2 ** 33 + 0xf0, valueTwo: 2 ** 33 + 0x10, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    };
    const program = compileSeccomp(masked, { arch: 'x86_64' });
    for (const arg of [0x10n, (1n << 33n) | 0x10n, (1n << 33n) | 0x1fn, (1n << 33n) | 0x20n, (3n << 32n) | 0x10n]) {
      const data = { nr: 0, arch: AUDIT_ARCH_X86_64, args: [0n, arg] };
      assert.equal(runSeccompFilter(program, data), expected(masked, 'x86_64', data), `masked ${arg}`);
    }
  });

  it('uses errnoRet, defaultErrnoRet and other actions', () => {
    const seccomp: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 13,
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 },
        { names: ['getpid'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      ],
    };
    const program = compileSeccomp(seccomp, { arch: 'x86_64' });
    assert.deepEqual(verdict(program, 'x86_64', 'mkdir'), { action: 'errno', errno: 28 });
    assert.deepEqual(verdict(program, 'x86_64', 'getpid'), { action: 'kill_process' });
    assert.deepEqual(verdict(program, 'x86_64', 'write'), { action: 'errno', errno: 13 });
  });

  it('with an allowing default denies only what is listed, and never says ENOSYS', () => {
    const seccomp: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'no_such_syscall'], action: 'SCMP_ACT_ERRNO' }],
    };
    const program = compileSeccomp(seccomp, { arch: 'aarch64' });
    assert.deepEqual(verdict(program, 'aarch64', 'mkdirat'), ALLOW);
    assert.deepEqual(decodeVerdict(runSeccompFilter(program, { nr: 999, arch: AUDIT_ARCH_AARCH64 })), ALLOW);
    const x86 = compileSeccomp(seccomp, { arch: 'x86_64' });
    assert.deepEqual(verdict(x86, 'x86_64', 'mkdir'), DENY);
  });

  it('compiles a user profile in Docker format with includes and excludes', () => {
    const text = JSON.stringify({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
        { names: ['chown'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_CHOWN'] } },
        { names: ['getpid'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
      ],
    });
    const profile = JSON.parse(text);
    const program = compileSeccomp(profile, { arch: 'x86_64', caps: ['CAP_CHOWN'] });
    assert.deepEqual(verdict(program, 'x86_64', 'write'), ALLOW);
    assert.deepEqual(verdict(program, 'x86_64', 'chown'), ALLOW);
    assert.deepEqual(verdict(program, 'x86_64', 'getpid'), DENY);
    assert.deepEqual(verdict(compileSeccomp(profile, { arch: 'x86_64', caps: [] }), 'x86_64', 'chown'), DENY);
    assert.deepEqual(verdict(compileSeccomp(profile, { arch: 'aarch64', caps: [] }), 'aarch64', 'getpid'), ALLOW);
  });

  it('rejects bad rules with INVALID_ARGUMENT and NOTIFY with NOT_IMPLEMENTED', () => {
    const bad = (seccomp: LinuxSeccomp, code: string) =>
      assert.throws(() => compileSeccomp(seccomp, { arch: 'x86_64' }), (e) => isEngineError(e) && e.code === code);
    bad({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] }, 'INVALID_ARGUMENT');
    bad({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] }, 'INVALID_ARGUMENT');
    bad({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_XX' as never }] }] }, 'INVALID_ARGUMENT');
    bad({ defaultAction: 'SCMP_ACT_BOGUS' as never }, 'INVALID_ARGUMENT');
    bad({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] }, 'NOT_IMPLEMENTED');
  });
});
