import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { compileSeccomp, DEFAULT_CAPABILITIES, defaultSeccompProfile, hostSeccompArch, resolveProfile, type LinuxSeccomp } from '../spec/index.js';
import { describeSeccompFilter, seccompFilterFor } from './seccomp-cache.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function cacheDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-seccomp-cache-'));
  dirs.push(dir);
  return path.join(dir, 'seccomp');
}

const small: LinuxSeccomp = {
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }],
};

function onlyFile(dir: string): string {
  const files = fs.readdirSync(dir);
  assert.equal(files.length, 1, `one cache file in ${dir}: ${files.join(', ')}`);
  return path.join(dir, files[0]!);
}

describe('seccomp filter cache', () => {
  it('compiles once, then serves the same program from the cache', () => {
    const dir = cacheDir();
    const first = seccompFilterFor(small, dir);
    assert.equal(first.cached, false);
    assert.deepEqual(first.program, compileSeccomp(small).toBuffer());
    const second = seccompFilterFor(small, dir);
    assert.equal(second.cached, true);
    assert.deepEqual(second.program, first.program);
    assert.match(describeSeccompFilter(second), /compiled by an earlier run/);
    assert.match(describeSeccompFilter(first), /^compile the seccomp profile/);
  });

  it("keeps Docker's default profile for each capability set apart", () => {
    const dir = cacheDir();
    const resolve = (caps: readonly string[]) => resolveProfile(defaultSeccompProfile(), { arch: hostSeccompArch(), caps });
    const plain = resolve(DEFAULT_CAPABILITIES);
    const withAdmin = resolve([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    const a = seccompFilterFor(plain, dir);
    const b = seccompFilterFor(withAdmin, dir);
    assert.equal(b.cached, false, 'another capability set is another profile');
    assert.notDeepEqual(a.program, b.program);
    assert.equal(fs.readdirSync(dir).length, 2);
    assert.deepEqual(seccompFilterFor(plain, dir).program, compileSeccomp(plain).toBuffer());
    assert.deepEqual(seccompFilterFor(withAdmin, dir).program, compileSeccomp(withAdmin).toBuffer());
  });

  it('never serves a file stored for another profile under the same name', () => {
    const dir = cacheDir();
    seccompFilterFor(small, dir);
    const file = onlyFile(dir);
    // A file at this name holding another section (what a hash collision would look like).
    const other: LinuxSeccomp = { ...small, defaultAction: 'SCMP_ACT_ALLOW' };
    const json = Buffer.from(JSON.stringify(other));
    const header = Buffer.alloc(4);
    header.writeUInt32LE(json.length, 0);
    fs.writeFileSync(file, Buffer.concat([header, json, compileSeccomp(other).toBuffer()]));
    const again = seccompFilterFor(small, dir);
    assert.equal(again.cached, false);
    assert.deepEqual(again.program, compileSeccomp(small).toBuffer());
  });

  for (const [what, damage] of [
    ['truncated', (data: Buffer) => data.subarray(0, data.length - 3)],
    ['empty', () => Buffer.alloc(0)],
    ['with a length beyond its end', (data: Buffer) => Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0x7f]), data.subarray(4)])],
  ] as const) {
    it(`recompiles and repairs a ${what} file`, () => {
      const dir = cacheDir();
      seccompFilterFor(small, dir);
      const file = onlyFile(dir);
      fs.writeFileSync(file, damage(fs.readFileSync(file)));
      const repaired = seccompFilterFor(small, dir);
      assert.equal(repaired.cached, false);
      assert.deepEqual(repaired.program, compileSeccomp(small).toBuffer());
      assert.equal(seccompFilterFor(small, dir).cached, true, 'the file was written again');
    });
  }

  it('still gives the program when the cache cannot be written', () => {
    const dir = cacheDir();
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.writeFileSync(dir, 'not a directory');
    const filter = seccompFilterFor(small, dir);
    assert.equal(filter.cached, false);
    assert.deepEqual(filter.program, compileSeccomp(small).toBuffer());
    assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['seccomp'], 'no temp file left beside it');
  });
});

describe('seccomp filter cache: whose file it is', () => {
  it('ignores a cache file that others can write, and a symlink in its place', () => {
    const dir = cacheDir();
    seccompFilterFor(small, dir);
    const file = onlyFile(dir);
    fs.chmodSync(file, 0o666);
    assert.equal(seccompFilterFor(small, dir).cached, false, 'a world-writable file is not trusted');
    assert.equal(seccompFilterFor(small, dir).cached, true, 'and it was replaced by a private one');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const elsewhere = path.join(path.dirname(dir), 'elsewhere.bpf');
    fs.renameSync(file, elsewhere);
    fs.symlinkSync(elsewhere, file);
    assert.equal(seccompFilterFor(small, dir).cached, false, 'a symlink is not followed');
    assert.equal(fs.lstatSync(file).isSymbolicLink(), false, 'the link was replaced by a file');
  });
});
