import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { buildTar, createTarWriter, encodePaxRecords, encodeTarHeader, type TarEntry } from './tar-writer.js';

interface Parsed {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  mtime: number;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  pax: Record<string, string>;
  body: Buffer;
}

async function parseWithTarStream(archive: Buffer): Promise<Parsed[]> {
  const extract = tar.extract();
  Readable.from([archive]).pipe(extract);
  const out: Parsed[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const h = entry.header as typeof entry.header & { pax?: Record<string, string> | null };
    out.push({
      name: h.name,
      type: String(h.type),
      mode: h.mode ?? -1,
      uid: h.uid ?? -1,
      gid: h.gid ?? -1,
      uname: h.uname ?? '',
      gname: h.gname ?? '',
      size: h.size ?? -1,
      mtime: h.mtime ? h.mtime.getTime() / 1000 : -1,
      linkname: h.linkname ?? null,
      devmajor: h.devmajor ?? 0,
      devminor: h.devminor ?? 0,
      pax: h.pax ?? {},
      body: Buffer.concat(chunks),
    });
  }
  return out;
}

/** Reads pax records by hand, keeping values as raw bytes. */
function readPaxRecords(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number(data.subarray(at, space).toString('latin1'));
    assert.ok(length > 0, `bad pax record length at ${at}`);
    const record = data.subarray(space + 1, at + length);
    assert.equal(record[record.length - 1], 0x0a, 'pax record ends in a newline');
    const eq = record.indexOf(0x3d);
    records.set(record.subarray(0, eq).toString('utf8'), record.subarray(eq + 1, record.length - 1));
    at += length;
  }
  return records;
}

const longDir = 'd'.repeat(60) + '/' + 'e'.repeat(60);
const longPathSplittable = `${longDir}/${'f'.repeat(90)}`; // 212 bytes, fits prefix + name
const longPathPax = 'g'.repeat(300); // no slash: needs a pax path
const longLink = '/' + 'h'.repeat(150);
const binaryXattr = Buffer.from([0x00, 0x01, 0x02, 0xff, 0x0a, 0x3d, 0x20]);

const entries: Array<TarEntry & { body?: string }> = [
  { name: 'dir', type: 'directory', mode: 0o1777, uid: 0, gid: 0, mtime: 1_700_000_000 },
  { name: 'dir/hello.txt', body: 'hello\n', mode: 0o640, uid: 1000, gid: 1001, uname: 'app', gname: 'staff', mtime: 1_700_000_000 },
  { name: longPathSplittable, body: 'split' },
  { name: longPathPax, body: 'pax' },
  { name: 'abs-link', type: 'symlink', linkname: '/etc/passwd' },
  { name: 'long-link', type: 'symlink', linkname: longLink },
  { name: 'hard', type: 'hardlink', linkname: 'dir/hello.txt' },
  { name: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 16, mode: 0o660 },
  { name: 'fifo', type: 'fifo', mode: 0o600 },
  { name: 'big-ids', uid: 3_000_000, gid: 2_097_152, body: '' },
  { name: 'frac-time', mtime: 1_700_000_000.5, body: '' },
  { name: 'xattr', body: 'x', xattrs: { 'user.binary': binaryXattr, 'user.text': 'plain' } },
  { name: '../escape', body: 'evil' },
  { name: '/absolute', body: 'evil' },
  { name: 'link-out', type: 'hardlink', linkname: '../../etc/shadow' },
];

test('tar-stream reads back every field the writer wrote', async () => {
  const parsed = await parseWithTarStream(buildTar(entries));
  assert.deepEqual(
    parsed.map((p) => p.name),
    [
      'dir/', 'dir/hello.txt', longPathSplittable, longPathPax, 'abs-link', 'long-link', 'hard', 'dev/null',
      'dev/sda', 'fifo', 'big-ids', 'frac-time', 'xattr', '../escape', '/absolute', 'link-out',
    ],
  );
  const byName = new Map(parsed.map((p) => [p.name, p]));
  const get = (name: string): Parsed => {
    const p = byName.get(name);
    assert.ok(p, `entry ${name} present`);
    return p;
  };
  assert.equal(get('dir/').type, 'directory');
  assert.equal(get('dir/').mode, 0o1777);
  assert.equal(get('dir/').mtime, 1_700_000_000);
  const hello = get('dir/hello.txt');
  assert.deepEqual(
    [hello.type, hello.mode, hello.uid, hello.gid, hello.uname, hello.gname, hello.size, hello.body.toString()],
    ['file', 0o640, 1000, 1001, 'app', 'staff', 6, 'hello\n'],
  );
  assert.equal(get(longPathSplittable).body.toString(), 'split');
  assert.equal(get(longPathPax).body.toString(), 'pax');
  assert.deepEqual([get('abs-link').type, get('abs-link').linkname, get('abs-link').mode], ['symlink', '/etc/passwd', 0o777]);
  assert.equal(get('long-link').linkname, longLink);
  assert.deepEqual([get('hard').type, get('hard').linkname, get('hard').size], ['link', 'dir/hello.txt', 0]);
  assert.deepEqual([get('dev/null').type, get('dev/null').devmajor, get('dev/null').devminor], ['character-device', 1, 3]);
  assert.deepEqual([get('dev/sda').type, get('dev/sda').devmajor, get('dev/sda').devminor], ['block-device', 8, 16]);
  assert.deepEqual([get('fifo').type, get('fifo').mode], ['fifo', 0o600]);
  // tar-stream applies only path/linkpath/size from pax; ids travel as pax records.
  assert.deepEqual([get('big-ids').pax['uid'], get('big-ids').pax['gid']], ['3000000', '2097152']);
  assert.equal(get('frac-time').pax['mtime'], '1700000000.5');
  assert.equal(get('xattr').pax['SCHILY.xattr.user.text'], 'plain');
  assert.ok('SCHILY.xattr.user.binary' in get('xattr').pax);
  assert.equal(get('link-out').linkname, '../../etc/shadow');
});

test('a binary xattr value is written as raw length-prefixed bytes', () => {
  const writer = createTarWriter();
  writer.add({ name: 'x', xattrs: { 'user.binary': binaryXattr } }, 'body');
  const archive = writer.finish();
  // First block: the pax header ('x'), then its records.
  assert.equal(String.fromCharCode(archive[156] ?? 0), 'x');
  const paxSize = parseInt(archive.subarray(124, 135).toString('latin1'), 8);
  const records = readPaxRecords(archive.subarray(512, 512 + paxSize));
  assert.deepEqual(records.get('SCHILY.xattr.user.binary'), binaryXattr);
  // Then the real header, then the body, then two zero blocks.
  const headerAt = 512 + Math.ceil(paxSize / 512) * 512;
  assert.equal(archive.subarray(headerAt, headerAt + 1).toString(), 'x');
  assert.equal(archive.subarray(headerAt + 512, headerAt + 516).toString(), 'body');
  assert.equal(archive.length, headerAt + 1024 + 1024);
});

test('pax record lengths count their own digits', () => {
  // ' ' + 'k' + '=' + 5 bytes + '\n' = 9 bytes, plus its two digits = 11.
  assert.equal(encodePaxRecords({ k: 'vvvvv' }).toString(), '11 k=vvvvv\n');
  // 93 bytes of value: 97 + 2 digits = 99, still two digits.
  const v93 = 'v'.repeat(93);
  assert.equal(encodePaxRecords({ k: v93 }).toString(), `99 k=${v93}\n`);
  // 94 bytes: 98 + 2 = 100 needs three digits, so the record is 101 bytes.
  const v94 = 'v'.repeat(94);
  assert.equal(encodePaxRecords({ k: v94 }).toString(), `101 k=${v94}\n`);
  const v95 = 'v'.repeat(95);
  assert.equal(encodePaxRecords({ k: v95 }).toString(), `102 k=${v95}\n`);
  for (const record of [v93, v94, v95].map((v) => encodePaxRecords({ k: v }))) {
    assert.equal(record.length, Number(record.toString().split(' ')[0]));
  }
});

test('sizes past the 11-digit octal field go to a pax size record', () => {
  const size = 8 ** 11 + 5; // > 8 GiB
  const { header, pax } = encodeTarHeader({ name: 'huge' }, size);
  assert.equal(readPaxRecords(pax).get('size')?.toString(), String(size));
  assert.equal(header.subarray(124, 135).toString('latin1'), '00000000000');
  const small = encodeTarHeader({ name: 'small' }, 1234);
  assert.equal(small.pax.length, 0);
  assert.equal(parseInt(small.header.subarray(124, 135).toString('latin1'), 8), 1234);
});

test('a name that fits only in prefix + name is split at a slash without pax', () => {
  const { header, pax } = encodeTarHeader({ name: longPathSplittable }, 0);
  assert.equal(pax.length, 0);
  assert.equal(header.subarray(345, 345 + 121).toString(), longDir);
  assert.equal(header.subarray(0, 90).toString(), 'f'.repeat(90));
});

test('GNU tar lists the archive with the same names, types, modes, owners and devices', () => {
  const listing = execFileSync('tar', ['--numeric-owner', '-tvf', '-'], {
    input: buildTar(entries),
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'], // GNU tar warns about the hostile names on stderr
  });
  const lines = listing.trim().split('\n');
  assert.equal(lines.length, entries.length);
  const line = (suffix: string): string => {
    const found = lines.find((l) => l.endsWith(suffix));
    assert.ok(found, `listing has a line ending with ${suffix}:\n${listing}`);
    return found;
  };
  assert.match(line(' dir/'), /^drwxrwxrwt 0\/0 /);
  assert.match(line(' dir/hello.txt'), /^-rw-r----- 1000\/1001 +6 /);
  assert.match(line(` ${longPathSplittable}`), /^-rw-r--r-- 0\/0 +5 /);
  assert.match(line(` ${longPathPax}`), /^-rw-r--r-- /);
  assert.match(line(' abs-link -> /etc/passwd'), /^lrwxrwxrwx /);
  assert.match(line(` long-link -> ${longLink}`), /^l/);
  assert.match(line(' hard link to dir/hello.txt'), /^h/);
  assert.match(line(' dev/null'), /^crw-rw-rw- 0\/0 +1,3 /);
  assert.match(line(' dev/sda'), /^brw-rw---- 0\/0 +8,16 /);
  assert.match(line(' fifo'), /^prw------- /);
  assert.match(line(' big-ids'), /^-rw-r--r-- 3000000\/2097152 /);
  assert.ok(lines.some((l) => l.endsWith(' ../escape')));
  assert.ok(lines.some((l) => l.endsWith(' /absolute')));
});

test('GNU tar sees the xattrs with their byte lengths and restores the binary value', () => {
  const archive = buildTar(entries.filter((e) => e.name === 'xattr'));
  const listing = execFileSync('tar', ['--xattrs', "--xattrs-include=*", '-tvvvf', '-'], { input: archive, encoding: 'utf8' });
  assert.match(listing, new RegExp(`x: ${binaryXattr.length} user\\.binary`));
  assert.match(listing, /x: 5 user\.text/);

  // Round trip through the file system when it supports user xattrs: extract
  // with GNU tar, re-archive with GNU tar, and read the bytes GNU tar wrote.
  const dir = mkdtempSync(join(tmpdir(), 'tar-writer-'));
  try {
    writeFileSync(join(dir, 'archive.tar'), archive);
    const x = spawnSync('tar', ['--xattrs', '--xattrs-include=user.*', '-xf', 'archive.tar'], { cwd: dir, encoding: 'utf8' });
    assert.equal(x.status, 0, x.stderr);
    if (/xattr|Operation not supported/i.test(x.stderr)) return; // no user xattrs on this file system
    const again = execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '--format=posix', '-cf', '-', 'xattr'], { cwd: dir });
    const paxSize = parseInt(again.subarray(124, 135).toString('latin1'), 8);
    const records = readPaxRecords(again.subarray(512, 512 + paxSize));
    assert.deepEqual(records.get('SCHILY.xattr.user.binary'), binaryXattr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
