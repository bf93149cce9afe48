import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { TarReader, parsePaxRecords, readNumber, type TarHeader } from './tar-reader.js';
import { TAR_END, buildTar, encodeTarHeader, encodePaxRecords } from './tar-writer.js';

interface Seen {
  header: TarHeader;
  body: Buffer;
}

function readAll(archive: Buffer, chunkSize = archive.length): Seen[] {
  const seen: Seen[] = [];
  let parts: Buffer[] = [];
  const reader = new TarReader({
    entry(header) {
      parts = [];
      seen.push({ header, body: Buffer.alloc(0) });
    },
    data(chunk) {
      parts.push(Buffer.from(chunk));
    },
    end() {
      seen[seen.length - 1]!.body = Buffer.concat(parts);
    },
  });
  for (let i = 0; i < archive.length; i += chunkSize) reader.push(archive.subarray(i, i + chunkSize));
  reader.finish();
  return seen;
}

// security.capability for cap_net_bind_service+ep (VFS_CAP_REVISION_2): not valid UTF-8.
const CAPABILITY = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

const sample = (): Buffer =>
  buildTar([
    { name: 'dir', type: 'directory', mode: 0o1777, uid: 5, gid: 6, mtime: 1_700_000_000 },
    { name: 'dir/file', mode: 0o4755, uid: 1000, gid: 100, mtime: 1_700_000_001.5, body: 'hello\n', xattrs: { 'security.capability': CAPABILITY, 'user.note': 'é' } },
    { name: 'dir/link', type: 'symlink', linkname: '../etc/x' },
    { name: 'dir/hard', type: 'hardlink', linkname: 'dir/file' },
    { name: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 },
    { name: 'pipe', type: 'fifo' },
    { name: `${'long/'.repeat(60)}name`, body: 'deep' },
    { name: 'big-ids', uid: 2 ** 31, gid: 3, body: 'x'.repeat(1500) },
  ]);

test('reads every entry kind with its metadata and body', () => {
  const seen = readAll(sample());
  assert.deepEqual(
    seen.map((s) => [s.header.name, s.header.kind]),
    [
      ['dir/', 'directory'],
      ['dir/file', 'file'],
      ['dir/link', 'symlink'],
      ['dir/hard', 'hardlink'],
      ['dev/null', 'char-device'],
      ['dev/sda', 'block-device'],
      ['pipe', 'fifo'],
      [`${'long/'.repeat(60)}name`, 'file'],
      ['big-ids', 'file'],
    ],
  );
  const [dir, file, link, hard, nul, sda] = seen;
  assert.equal(dir!.header.mode, 0o1777);
  assert.equal(dir!.header.uid, 5);
  assert.equal(dir!.header.gid, 6);
  assert.equal(file!.header.mode, 0o4755);
  assert.equal(file!.header.mtime, 1_700_000_001.5);
  assert.equal(file!.body.toString(), 'hello\n');
  assert.equal(link!.header.linkname, '../etc/x');
  assert.equal(hard!.header.linkname, 'dir/file');
  assert.equal(hard!.body.length, 0);
  assert.deepEqual([nul!.header.devmajor, nul!.header.devminor], [1, 3]);
  assert.deepEqual([sda!.header.devmajor, sda!.header.devminor], [8, 0]);
  assert.equal(seen[7]!.body.toString(), 'deep');
  assert.equal(seen[8]!.header.uid, 2 ** 31);
  assert.equal(seen[8]!.body.length, 1500);
});

test('binary xattr values survive byte for byte', () => {
  const file = readAll(sample())[1]!;
  assert.deepEqual(file.header.xattrs.get('security.capability'), CAPABILITY);
  assert.deepEqual(file.header.xattrs.get('user.note'), Buffer.from('é'));
});

test('any chunking of the input gives the same entries', () => {
  const whole = readAll(sample());
  for (const size of [1, 7, 511, 512, 513, 4096]) {
    const split = readAll(sample(), size);
    assert.deepEqual(
      split.map((s) => [s.header.name, s.body.toString('hex'), [...s.header.xattrs]]),
      whole.map((s) => [s.header.name, s.body.toString('hex'), [...s.header.xattrs]]),
      `chunk size ${size}`,
    );
  }
});

test('GNU long names and long link names are applied to the next entry', () => {
  const longName = `${'n'.repeat(150)}/file`;
  const longLink = `${'t'.repeat(120)}/target`;
  const meta = (flag: string, text: string): Buffer[] => {
    const body = Buffer.from(`${text}\0`);
    const { header } = encodeTarHeader({ name: '././@LongLink' }, body.length, flag);
    return [header, body, Buffer.alloc((512 - (body.length % 512)) % 512)];
  };
  const { header } = encodeTarHeader({ name: 'short', type: 'symlink', linkname: 'short-target' }, 0);
  const archive = Buffer.concat([...meta('L', longName), ...meta('K', longLink), header, TAR_END]);
  const [entry] = readAll(archive);
  assert.equal(entry!.header.name, longName);
  assert.equal(entry!.header.linkname, longLink);
});

test('global pax headers apply to every later entry, local ones win', () => {
  const global = encodePaxRecords({ uid: '77', 'SCHILY.xattr.user.g': 'global' });
  const { header: globalHeader } = encodeTarHeader({ name: 'pax_global_header' }, global.length, 'g');
  const rest = buildTar([
    { name: 'a', body: 'a' },
    { name: 'b', body: 'b', pax: { uid: '88' } },
  ]);
  const archive = Buffer.concat([globalHeader, global, Buffer.alloc(512 - global.length), rest]);
  const [a, b] = readAll(archive);
  assert.equal(a!.header.uid, 77);
  assert.equal(b!.header.uid, 88);
  assert.deepEqual(b!.header.xattrs.get('user.g'), Buffer.from('global'));
});

test('old-style archives: typeflag NUL, directories by trailing slash', () => {
  const dir = encodeTarHeader({ name: 'olddir/', mode: 0o755 }, 0, '\0').header;
  const file = encodeTarHeader({ name: 'olddir/f' }, 0, '\0').header;
  const [d, f] = readAll(Buffer.concat([dir, file, TAR_END]));
  assert.equal(d!.header.kind, 'directory');
  assert.equal(f!.header.kind, 'file');
});

test('bytes after the end-of-archive blocks are ignored', () => {
  const archive = Buffer.concat([buildTar([{ name: 'x', body: 'x' }]), Buffer.from('trailing garbage')]);
  assert.equal(readAll(archive).length, 1);
});

test('a header with a bad checksum is refused', () => {
  const archive = buildTar([{ name: 'x', body: 'x' }]);
  archive[0] = 'y'.charCodeAt(0);
  assert.throws(() => readAll(archive), (e) => isEngineError(e, 'INTEGRITY') && /checksum/.test(e.message));
});

test('an archive that stops inside an entry is refused', () => {
  const archive = buildTar([{ name: 'x', body: 'x'.repeat(2000) }]);
  assert.throws(() => readAll(archive.subarray(0, 1024)), (e) => isEngineError(e, 'INTEGRITY') && /unexpected end/.test(e.message));
});

test('sparse and other unknown entry types are refused', () => {
  const { header } = encodeTarHeader({ name: 'sparse' }, 0, 'S');
  assert.throws(() => readAll(Buffer.concat([header, TAR_END])), (e) => isEngineError(e, 'INTEGRITY') && /unsupported entry type/.test(e.message));
});

test('pax records: lengths count bytes; malformed ones are refused', () => {
  const records = parsePaxRecords(encodePaxRecords({ path: 'ünï', 'SCHILY.xattr.x': Buffer.from([0xff, 0x00, 0x0a]) }));
  assert.equal(records.get('path')!.toString(), 'ünï');
  assert.deepEqual(records.get('SCHILY.xattr.x'), Buffer.from([0xff, 0x00, 0x0a]));
  assert.throws(() => parsePaxRecords(Buffer.from('99 path=x\n')), (e) => isEngineError(e, 'INTEGRITY'));
});

test('numbers: octal with padding, and GNU base-256', () => {
  const block = Buffer.alloc(24);
  block.write(' 0000755\0', 0, 'latin1');
  assert.equal(readNumber(block, 0, 8), 0o755);
  block.fill(0, 8, 20);
  block[8] = 0x80;
  block.writeUInt32BE(2 ** 32 - 1, 16);
  assert.equal(readNumber(block, 8, 12), 2 ** 32 - 1);
});
