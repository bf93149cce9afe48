import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { familiarName, formatReference, parseReference, registryApiHost } from './reference.js';

const D = 'sha256:' + 'ab'.repeat(32);

// input -> [fully qualified, familiar]; after Docker's reference normalization tests.
const CASES: Array<[string, string, string]> = [
  ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/library/busybox:1', 'docker.io/library/busybox:1', 'busybox:1'],
  ['index.docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['user/repo', 'docker.io/user/repo:latest', 'user/repo:latest'],
  ['docker.io/user/repo:tag', 'docker.io/user/repo:tag', 'user/repo:tag'],
  ['user/nested/repo', 'docker.io/user/nested/repo:latest', 'user/nested/repo:latest'],
  ['library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
  ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
  ['localhost:5000/x:1', 'localhost:5000/x:1', 'localhost:5000/x:1'],
  ['127.0.0.1:5000/a/b:c', '127.0.0.1:5000/a/b:c', '127.0.0.1:5000/a/b:c'],
  ['quay.io/coreos/etcd:v3.5.0', 'quay.io/coreos/etcd:v3.5.0', 'quay.io/coreos/etcd:v3.5.0'],
  ['Registry.Example/x', 'Registry.Example/x:latest', 'Registry.Example/x:latest'],
  ['Foo/bar', 'Foo/bar:latest', 'Foo/bar:latest'],
  ['[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000/x:latest'],
  [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
  [`busybox:1.36@${D}`, `docker.io/library/busybox:1.36@${D}`, `busybox:1.36@${D}`],
  [`localhost:5000/x@${D}`, `localhost:5000/x@${D}`, `localhost:5000/x@${D}`],
  ['a__b/c-d---e/f.g_h:T_1.2-3', 'docker.io/a__b/c-d---e/f.g_h:T_1.2-3', 'a__b/c-d---e/f.g_h:T_1.2-3'],
  ['localhost:5000', 'docker.io/library/localhost:5000', 'localhost:5000'],
  ['_tag/x', '', ''],
];

for (const [input, full, familiar] of CASES) {
  if (full === '') continue;
  test(`parses ${input}`, () => {
    const ref = parseReference(input);
    assert.equal(formatReference(ref), full);
    assert.equal(familiarName(ref), familiar);
    assert.deepEqual(parseReference(formatReference(ref)), ref, 'formatting round-trips');
  });
}

test('parts of a reference', () => {
  assert.deepEqual(parseReference('busybox'), { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
  assert.deepEqual(parseReference(`host.example:443/a/b@${D}`), {
    registry: 'host.example:443',
    repository: 'a/b',
    digest: D,
  });
  assert.deepEqual(parseReference(`x:t@${D}`), { registry: 'docker.io', repository: 'library/x', tag: 't', digest: D });
});

const INVALID: Array<[string, RegExp]> = [
  ['', /empty/],
  ['Busybox', /must be lowercase/],
  ['docker.io/Foo/bar', /must be lowercase/],
  ['busybox:', /tag ""/],
  ['busybox:-x', /tag "-x"/],
  [`busybox:${'a'.repeat(129)}`, /tag/],
  ['busybox:a/b', /registry host "busybox:a"/],
  ['a//b', /empty path component/],
  ['/a', /empty path component|registry/],
  ['a/', /empty path component/],
  ['a-/b', /path component "a-"/],
  ['a..b', /path component "a..b"/],
  ['-a', /path component "-a"/],
  ['busybox@sha256:abc', /digest "sha256:abc"/],
  ['busybox@md5:' + 'a'.repeat(32), /not a sha256 digest/],
  ['busybox@sha256:' + 'A'.repeat(64), /not a sha256 digest/],
  ['a b', /white space/],
  ['ab'.repeat(32), /image id/],
  ['host_name:5000/x', /registry host|path component/],
  [`x/${'a'.repeat(260)}`, /longer than 255/],
];

for (const [input, why] of INVALID) {
  test(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
    assert.throws(
      () => parseReference(input),
      (error: unknown) => {
        assert.ok(isEngineError(error, 'INVALID_ARGUMENT'), String(error));
        assert.match(error.message, why);
        if (input.length > 0 && input.length < 60) assert.ok(error.message.includes(JSON.stringify(input)), error.message);
        return true;
      },
    );
  });
}

test('docker hub api host', () => {
  assert.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
  assert.equal(registryApiHost('localhost:5000'), 'localhost:5000');
});
