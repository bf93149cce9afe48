import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import type { Descriptor, ImageIndex } from './manifest.js';
import { choosePlatform, hostPlatform, normalizePlatform, parsePlatform } from './platform.js';

function entry(n: number, platform?: Descriptor['platform'], annotations?: Record<string, string>): Descriptor {
  const d: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${String(n).repeat(64)}`, size: 1 };
  if (platform) d.platform = platform;
  if (annotations) d.annotations = annotations;
  return d;
}

const INDEX: ImageIndex = {
  schemaVersion: 2,
  manifests: [
    entry(1, { os: 'linux', architecture: 'amd64' }),
    entry(2, { os: 'linux', architecture: 'arm', variant: 'v6' }),
    entry(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(4, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry(5, { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
    entry(6, { os: 'windows', architecture: 'amd64', 'os.version': '10.0' }),
  ],
};

test('host platform from node arch names', () => {
  assert.deepEqual(hostPlatform('x64', 'linux'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(hostPlatform('arm64', 'linux'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(hostPlatform('arm', 'linux'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(hostPlatform('ia32', 'linux'), { os: 'linux', architecture: '386' });
  assert.equal(hostPlatform('s390x', 'linux').architecture, 's390x');
  assert.equal(hostPlatform('riscv64', 'linux').architecture, 'riscv64');
  assert.equal(hostPlatform('ppc64', 'linux').architecture, 'ppc64le');
});

test('parsePlatform', () => {
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
  assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('Linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/am d64']) {
    assert.throws(() => parsePlatform(bad), (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT') && e.message.includes(JSON.stringify(bad)));
  }
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm64', variant: '8' }), { os: 'linux', architecture: 'arm64' });
});

test('choosePlatform picks the matching entry', () => {
  assert.equal(choosePlatform(INDEX, { os: 'linux', architecture: 'amd64' }).digest, INDEX.manifests[0]!.digest);
  assert.equal(choosePlatform(INDEX, parsePlatform('linux/arm/v6')).digest, INDEX.manifests[1]!.digest);
  assert.equal(choosePlatform(INDEX, parsePlatform('linux/arm')).digest, INDEX.manifests[2]!.digest);
  assert.equal(choosePlatform(INDEX, hostPlatform('arm64', 'linux')).digest, INDEX.manifests[3]!.digest);
  assert.equal(choosePlatform(INDEX, parsePlatform('linux/arm64')).digest, INDEX.manifests[3]!.digest);
  assert.equal(choosePlatform(INDEX, parsePlatform('windows/amd64')).digest, INDEX.manifests[5]!.digest);
  const noVariant: ImageIndex = { schemaVersion: 2, manifests: [entry(7, { os: 'linux', architecture: 'arm64' })] };
  assert.equal(choosePlatform(noVariant, hostPlatform('arm64', 'linux')).digest, noVariant.manifests[0]!.digest);
  const bare: ImageIndex = { schemaVersion: 2, manifests: [entry(8)] };
  assert.equal(choosePlatform(bare, parsePlatform('linux/s390x')).digest, bare.manifests[0]!.digest);
});

test('choosePlatform lists what exists when nothing matches', () => {
  assert.throws(
    () => choosePlatform(INDEX, parsePlatform('linux/s390x')),
    (e: unknown) => {
      assert.ok(isEngineError(e, 'NOT_FOUND'));
      assert.match(e.message, /no manifest for platform linux\/s390x/);
      assert.match(e.message, /linux\/amd64, linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8, windows\/amd64/);
      assert.doesNotMatch(e.message, /unknown/);
      return true;
    },
  );
  assert.throws(() => choosePlatform(INDEX, parsePlatform('linux/arm/v5')), /linux\/arm\/v5/);
  assert.throws(() => choosePlatform({ schemaVersion: 2, manifests: [] }, parsePlatform('linux/amd64')), /names no platforms/);
});
