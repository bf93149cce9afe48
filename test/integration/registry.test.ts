/**
 * The registry client against the real registry (Debian's docker-registry)
 * holding images pushed by skopeo: OCI and Docker schema 2 manifests, a
 * multi-platform index, config and layer blobs with Range, 404s, and a
 * registry behind htpasswd basic auth with login/logout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEngineError } from '../../src/common/index.js';
// The image module's files directly: its index also carries the pull walk and what that imports.
import { MEDIA_TYPES } from '../../src/image/media-types.js';
import { parseImageConfig, parseManifest } from '../../src/image/manifest.js';
import { choosePlatform, hostPlatform, parsePlatform } from '../../src/image/platform.js';
import { parseReference } from '../../src/image/reference.js';
import { createFileCredentialStore, createRegistryClient, type RegistryClient } from '../../src/registry/index.js';
import { startRegistry } from '../helpers/registry.js';
import {
  OciLayout,
  addImage,
  buildPlatformLayerTar,
  platformString,
  pushWithSkopeo,
  sharedImages,
  hostPlatform as helperHostPlatform,
} from '../helpers/images.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function withClient<T>(fn: (client: RegistryClient) => Promise<T>, options: Parameters<typeof createRegistryClient>[0] = {}): Promise<T> {
  const client = createRegistryClient(options);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

test('ping, OCI and Docker schema 2 manifests, config blob', { skip }, async () => {
  const images = await sharedImages();
  await withClient(async (client) => {
    const ping = await client.ping(images.registry);
    assert.equal(ping.url, `http://${images.registry}/v2/`);
    assert.equal(ping.authRequired, false);

    const oci = await client.getManifest(parseReference(images.busybox.ref));
    assert.equal(oci.digest, images.busybox.digest);
    assert.equal(oci.mediaType, MEDIA_TYPES.ociManifest);
    const parsedOci = parseManifest(oci.bytes, oci.mediaType);
    assert.equal(parsedOci.kind, 'manifest');
    if (parsedOci.kind !== 'manifest') return;
    assert.deepEqual(parsedOci.manifest.layers.map((l) => l.digest), images.busybox.layers.map((l) => l.digest));
    assert.equal(parsedOci.manifest.config.digest, images.busybox.configDigest);

    const config = await client.fetchBlob(images.registry, images.busybox.repository, images.busybox.configDigest);
    assert.equal(config.status, 200);
    const configBytes = await readAll(config.body);
    assert.equal(sha256(configBytes), images.busybox.configDigest);
    assert.equal(config.totalSize, configBytes.length);
    assert.deepEqual(parseImageConfig(configBytes).rootfs.diff_ids, images.busybox.layers.map((l) => l.diffId));

    const docker = await client.getManifest(parseReference(images.busyboxDocker.ref));
    assert.equal(docker.digest, images.busyboxDocker.digest);
    assert.equal(docker.mediaType, MEDIA_TYPES.dockerManifest);
    const parsedDocker = parseManifest(docker.bytes, docker.mediaType);
    assert.equal(parsedDocker.kind === 'manifest' && parsedDocker.manifest.config.mediaType, MEDIA_TYPES.dockerConfig);

    // By digest, the same bytes.
    const byDigest = await client.getManifest({ registry: images.registry, repository: images.busybox.repository, digest: images.busybox.digest });
    assert.deepEqual(byDigest.bytes, oci.bytes);
  });
});

test('a multi-platform index and the host platform chosen from it', { skip }, async () => {
  const images = await sharedImages();
  await withClient(async (client) => {
    const index = await client.getManifest(parseReference(images.multiPlatform.ref));
    assert.equal(index.digest, images.multiPlatform.digest);
    const parsed = parseManifest(index.bytes, index.mediaType);
    assert.equal(parsed.kind, 'index');
    if (parsed.kind !== 'index') return;
    const chosen = choosePlatform(parsed.index, hostPlatform());
    const expected = images.multiPlatform.manifests.find((m) => platformString(m.platform) === platformString(helperHostPlatform()));
    assert.equal(chosen.digest, expected?.digest);
    const armv7 = choosePlatform(parsed.index, parsePlatform('linux/arm/v7'));
    const child = await client.getManifest({ registry: images.registry, repository: images.multiPlatform.repository, digest: armv7.digest });
    assert.equal(parseManifest(child.bytes, child.mediaType).kind, 'manifest');
    assert.throws(() => choosePlatform(parsed.index, parsePlatform('linux/s390x')), (e: unknown) => isEngineError(e, 'NOT_FOUND') && /linux\/arm\/v7/.test(e.message));
  });
});

test('a layer blob in full and resumed with Range', { skip }, async () => {
  const images = await sharedImages();
  const layer = images.busybox.layers[0]!;
  await withClient(async (client) => {
    const whole = await client.fetchBlob(images.registry, images.busybox.repository, layer.digest);
    const all = await readAll(whole.body);
    assert.equal(sha256(all), layer.digest);
    assert.equal(all.length, layer.size);

    const offset = Math.floor(layer.size / 3);
    const part = await client.fetchBlob(images.registry, images.busybox.repository, layer.digest, { offset });
    assert.equal(part.status, 206);
    assert.equal(part.offset, offset);
    assert.equal(part.totalSize, layer.size);
    const tail = await readAll(part.body);
    assert.equal(sha256(Buffer.concat([all.subarray(0, offset), tail])), layer.digest);
  });
});

test('unknown tags, repositories and blobs are NOT_FOUND', { skip }, async () => {
  const images = await sharedImages();
  await withClient(async (client) => {
    await assert.rejects(
      client.getManifest({ registry: images.registry, repository: images.busybox.repository, tag: 'no-such-tag' }),
      (e: unknown) => isEngineError(e, 'NOT_FOUND') && /:no-such-tag: manifest unknown/.test(e.message),
    );
    await assert.rejects(
      client.getManifest({ registry: images.registry, repository: 'didactic/never-pushed', tag: 'latest' }),
      (e: unknown) => isEngineError(e, 'NOT_FOUND') && /never-pushed/.test(e.message),
    );
    await assert.rejects(
      client.fetchBlob(images.registry, images.busybox.repository, `sha256:${'0'.repeat(64)}`),
      (e: unknown) => isEngineError(e, 'NOT_FOUND') && /blob unknown/.test(e.message),
    );
  });
});

test('a registry behind htpasswd: refused anonymously, login, pull, logout', { skip }, async (t) => {
  const credentials = { user: 'tester', password: 'correct horse' };
  const registry = await startRegistry({ htpasswd: credentials });
  const dir = mkdtempSync(join(tmpdir(), 'dctr-registry-auth-'));
  t.after(async () => {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const layout = new OciLayout(join(dir, 'layout'));
  const built = addImage(layout, [{ tar: buildPlatformLayerTar(helperHostPlatform()) }]);
  layout.tag(built.manifest, 'tiny');
  const digest = await pushWithSkopeo(layout.dir, 'tiny', `${registry.host}/private/tiny:1`, { credentials });
  const ref = parseReference(`${registry.host}/private/tiny:1`);

  await withClient(async (anonymous) => {
    const ping = await anonymous.ping(registry.host);
    assert.equal(ping.authRequired, true);
    assert.equal(ping.challenges[0]?.scheme, 'basic');
    await assert.rejects(anonymous.getManifest(ref), (e: unknown) => isEngineError(e, 'PERMISSION_DENIED') && /private\/tiny:1: authentication required/.test(e.message));
  });

  const authFile = join(dir, 'auth.json');
  const store = createFileCredentialStore({ path: authFile });
  await withClient(async (client) => {
    await assert.rejects(
      client.login(registry.host, credentials.user, 'wrong password'),
      (e: unknown) => isEngineError(e, 'PERMISSION_DENIED') && /invalid username or password/.test(e.message) && !e.message.includes('wrong password'),
    );
    await client.login(registry.host, credentials.user, credentials.password);
    assert.equal(statSync(authFile).mode & 0o777, 0o600);
    const manifest = await client.getManifest(ref);
    assert.equal(manifest.digest, digest);
    const blob = await client.fetchBlob(ref.registry, ref.repository, built.layers[0]!.digest, { offset: 1 });
    assert.equal(blob.status, 206);
    assert.equal((await readAll(blob.body)).length, built.layers[0]!.size - 1);
    assert.equal(await client.logout(registry.host), true);
  }, { credentials: store });

  // A fresh client with the (now empty) store is refused again.
  await withClient(async (client) => {
    await assert.rejects(client.getManifest(ref), (e: unknown) => isEngineError(e, 'PERMISSION_DENIED'));
  }, { credentials: store });
});
