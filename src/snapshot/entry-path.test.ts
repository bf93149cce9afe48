import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { chainId, chainIds } from './chain-id.js';
import { cleanEntryPath, detectCompression, parentsOf, whiteoutOf } from './entry-path.js';

// sha256 of "a", "b", "c"; the chain ids below were computed with sha256sum:
//   printf '%s %s' "$A" "$B" | sha256sum
const A = 'sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb';
const B = 'sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d';
const C = 'sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6';
const AB = 'sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676';
const ABC = 'sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106';

test('chain ids follow the OCI definition', () => {
  assert.deepEqual(chainIds([A]), [A]);
  assert.deepEqual(chainIds([A, B, C]), [A, AB, ABC]);
  assert.equal(chainId([A, B, C]), ABC);
  assert.deepEqual(chainIds([]), []);
  assert.throws(() => chainId([]), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
  assert.throws(() => chainIds([A, 'sha256:xyz']), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
});

test('compression is detected by magic bytes', () => {
  assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 0x08, 0x00])), 'gzip');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x04])), 'zstd');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f])), 'none');
  assert.equal(detectCompression(Buffer.from('etc/passwd\0')), 'none');
  assert.equal(detectCompression(Buffer.alloc(0)), 'none');
});

test('entry names are cleaned relative to the layer root', () => {
  assert.deepEqual(cleanEntryPath('./etc/passwd'), { ok: true, path: 'etc/passwd' });
  assert.deepEqual(cleanEntryPath('etc//x/./y/'), { ok: true, path: 'etc/x/y' });
  assert.deepEqual(cleanEntryPath('a/../b'), { ok: true, path: 'b' });
  assert.deepEqual(cleanEntryPath('./'), { ok: true, path: '' });
  assert.deepEqual(cleanEntryPath('.'), { ok: true, path: '' });
  assert.deepEqual(cleanEntryPath('..foo/bar'), { ok: true, path: '..foo/bar' });
});

test('entry names that leave the layer are refused', () => {
  assert.deepEqual(cleanEntryPath('../evil'), { ok: false, reason: 'escapes' });
  assert.deepEqual(cleanEntryPath('a/../../evil'), { ok: false, reason: 'escapes' });
  assert.deepEqual(cleanEntryPath('./..'), { ok: false, reason: 'escapes' });
  assert.deepEqual(cleanEntryPath('/etc/evil'), { ok: false, reason: 'absolute' });
  assert.deepEqual(cleanEntryPath('a\0b'), { ok: false, reason: 'invalid' });
  assert.deepEqual(cleanEntryPath(''), { ok: false, reason: 'invalid' });
});

test('whiteouts and opaque markers are recognized', () => {
  assert.deepEqual(whiteoutOf('etc/.wh.passwd'), { kind: 'whiteout', target: 'etc/passwd' });
  assert.deepEqual(whiteoutOf('.wh.top'), { kind: 'whiteout', target: 'top' });
  assert.deepEqual(whiteoutOf('var/lib/.wh..wh..opq'), { kind: 'opaque', dir: 'var/lib' });
  assert.deepEqual(whiteoutOf('.wh..wh..opq'), { kind: 'opaque', dir: '' });
  assert.deepEqual(whiteoutOf('x/.wh..wh.plnk'), { kind: 'meta' });
  assert.deepEqual(whiteoutOf('x/.wh.'), { kind: 'meta' });
  assert.deepEqual(whiteoutOf('x/wh.file'), { kind: 'none' });
  assert.deepEqual(whiteoutOf('.whfile'), { kind: 'none' });
});

test('parents of a path, outermost first', () => {
  assert.deepEqual(parentsOf('a/b/c'), ['a', 'a/b']);
  assert.deepEqual(parentsOf('a'), []);
});
