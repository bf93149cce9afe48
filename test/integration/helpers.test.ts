/**
 * Proves the test helpers do what later tests rely on: a real registry that
 * holds the images we say it holds, layers that unpack with GNU tar into a
 * runnable busybox, the layered image's merged view as documented, and basic
 * auth that refuses and accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { sha256Digest } from '../../src/common/digest.js';
import { createTempRoot, mountsBelow } from '../helpers/tmp-root.js';
import { sharedRegistry, startRegistry } from '../helpers/registry.js';
import {
  LAYERED_EXPECTED,
  MEDIA_TYPES,
  TEST_REPOSITORIES,
  diffMergedView,
  fetchBlob,
  fetchManifest,
  hostPlatform,
  platformString,
  sharedImages,
} from '../helpers/images.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;

function skopeoInspect(ref: string, ...flags: string[]): any {
  const out = execFileSync('skopeo', ['inspect', '--tls-verify=false', ...flags, `docker://${ref}`], { encoding: 'utf8' });
  return JSON.parse(out);
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'dctr-helpers-test-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Applies uncompressed layer tars one after another into `target` the way the
 * OCI image spec describes, using GNU tar for the extraction: whiteouts and
 * opaque markers remove lower content first, a non-directory replaces a
 * directory, and the whiteout files themselves are not extracted.
 */
function applyLayersWithGnuTar(target: string, tars: Buffer[]): void {
  tars.forEach((tar, i) => {
    const file = join(dirname(target), `layer-${i}.tar`);
    writeFileSync(file, tar);
    const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    // The first letter of each verbose line is the member's type (d for directories).
    const kinds = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' }).trim().split('\n').map((l) => l[0]);
    names.forEach((raw, j) => {
      const name = raw.replace(/\/+$/, '');
      const base = posix.basename(name);
      const parent = join(target, posix.dirname(name));
      if (base === '.wh..wh..opq') {
        for (const child of existsSync(parent) ? readdirSync(parent) : []) rmSync(join(parent, child), { recursive: true, force: true });
      } else if (base.startsWith('.wh.')) {
        rmSync(join(parent, base.slice(4)), { recursive: true, force: true });
      } else if (kinds[j] !== 'd') {
        const existing = join(target, name);
        if (existsSync(existing) && lstatSync(existing).isDirectory()) rmSync(existing, { recursive: true, force: true });
      }
    });
    execFileSync('tar', ['-xpf', file, '-C', target, '--exclude=.wh.*', '--same-owner', '--numeric-owner']);
    rmSync(file);
  });
}

test('createTempRoot gives two dirs and dispose() unmounts and removes them', { skip }, () => {
  const tmp = createTempRoot();
  try {
    assert.ok(statSync(tmp.root).isDirectory());
    assert.ok(statSync(tmp.runRoot).isDirectory());
    const mnt = join(tmp.root, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt]);
    mkdirSync(join(mnt, 'nested'));
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(mnt, 'nested')]);
    assert.deepEqual(mountsBelow(tmp.dir), [join(mnt, 'nested'), mnt]);
  } finally {
    tmp.dispose();
  }
  assert.deepEqual(mountsBelow(tmp.dir), []);
  assert.equal(existsSync(tmp.dir), false);
  tmp.dispose(); // twice is fine
});

test('the shared registry lists every test repository in its catalog', { skip }, async () => {
  const images = await sharedImages();
  const registry = await sharedRegistry();
  assert.equal(images.registry, registry.host);
  const catalog = (await (await fetch(`${registry.url}/v2/_catalog`)).json()) as { repositories: string[] };
  for (const repository of Object.values(TEST_REPOSITORIES)) assert.ok(catalog.repositories.includes(repository), repository);
});

test('skopeo sees the busybox image as OCI with the digests the helper reports', { skip }, async () => {
  const { busybox, registry } = await sharedImages();
  const raw = skopeoInspect(busybox.ref, '--raw');
  assert.equal(raw.mediaType, MEDIA_TYPES.ociManifest);
  assert.equal(raw.config.mediaType, MEDIA_TYPES.ociConfig);
  assert.equal(raw.config.digest, busybox.configDigest);
  assert.deepEqual(raw.layers.map((l: { digest: string }) => l.digest), busybox.layers.map((l) => l.digest));
  assert.equal(raw.layers[0].mediaType, MEDIA_TYPES.ociLayerGzip);
  const inspected = skopeoInspect(busybox.ref);
  assert.equal(inspected.Digest, busybox.digest);
  assert.equal(inspected.Architecture, hostPlatform().architecture);
  assert.equal(inspected.Os, 'linux');
  const config = skopeoInspect(busybox.ref, '--config');
  assert.deepEqual(config.config.Cmd, ['sh']);
  assert.deepEqual(config.rootfs.diff_ids, busybox.layers.map((l) => l.diffId));
  // The diff id really is the digest of the uncompressed layer.
  const layer = await fetchBlob(registry, busybox.repository, busybox.layers[0]!.digest);
  assert.equal(sha256Digest(layer), busybox.layers[0]!.digest);
  assert.equal(sha256Digest(gunzipSync(layer)), busybox.layers[0]!.diffId);
});

test('the Docker schema 2 copy has Docker media types and the same layer', { skip }, async () => {
  const { busybox, busyboxDocker } = await sharedImages();
  const raw = skopeoInspect(busyboxDocker.ref, '--raw');
  assert.equal(raw.mediaType, MEDIA_TYPES.dockerManifest);
  assert.equal(raw.config.mediaType, MEDIA_TYPES.dockerConfig);
  assert.equal(raw.layers[0].mediaType, MEDIA_TYPES.dockerLayerGzip);
  assert.equal(raw.layers[0].digest, busybox.layers[0]!.digest);
  assert.equal(busyboxDocker.mediaType, MEDIA_TYPES.dockerManifest);
  assert.equal(skopeoInspect(busyboxDocker.ref).Digest, busyboxDocker.digest);
  assert.notEqual(busyboxDocker.digest, busybox.digest);
});

test('the zstd variant decompresses to the same diff id', { skip }, async () => {
  const { busybox, busyboxZstd, registry } = await sharedImages();
  const raw = skopeoInspect(busyboxZstd.ref, '--raw');
  assert.equal(raw.layers[0].mediaType, MEDIA_TYPES.ociLayerZstd);
  const blob = await fetchBlob(registry, busyboxZstd.repository, busyboxZstd.layers[0]!.digest);
  const tar = execFileSync('zstd', ['-d', '-c', '-q'], { input: blob, maxBuffer: 1 << 28 });
  assert.equal(sha256Digest(tar), busybox.layers[0]!.diffId);
});

test('the index lists linux/amd64, linux/arm64 and linux/arm/v7 with resolvable manifests', { skip }, async () => {
  const { multiPlatform, registry } = await sharedImages();
  const raw = skopeoInspect(multiPlatform.ref, '--raw');
  assert.equal(raw.mediaType, MEDIA_TYPES.ociIndex);
  assert.equal(sha256Digest(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${multiPlatform.ref}`])), multiPlatform.digest);
  const platforms = raw.manifests.map((m: { platform: { os: string; architecture: string; variant?: string } }) => platformString(m.platform));
  for (const wanted of ['linux/amd64', 'linux/arm64', 'linux/arm/v7']) assert.ok(platforms.includes(wanted), wanted);
  assert.ok(platforms.includes(platformString(hostPlatform())));
  assert.equal(raw.manifests.length, multiPlatform.manifests.length);
  for (const entry of multiPlatform.manifests) {
    const manifest = await fetchManifest(registry, multiPlatform.repository, entry.digest);
    assert.equal(manifest.digest, entry.digest);
    assert.equal(manifest.json.config.digest, entry.configDigest);
    const config = JSON.parse((await fetchBlob(registry, multiPlatform.repository, entry.configDigest)).toString());
    assert.equal(config.architecture, entry.platform.architecture);
    assert.equal(config.variant, entry.platform.variant);
    // The last layer of every entry is /platform.txt naming the platform.
    const last = gunzipSync(await fetchBlob(registry, multiPlatform.repository, entry.layers.at(-1)!.digest));
    const listing = execFileSync('tar', ['-xOf', '-', 'platform.txt'], { input: last, encoding: 'utf8' });
    assert.equal(listing, `${platformString(entry.platform)}\n`);
  }
});

test('the busybox layer untars with GNU tar and runs in a chroot', { skip }, async () => {
  const { busybox, registry } = await sharedImages();
  const layer = gunzipSync(await fetchBlob(registry, busybox.repository, busybox.layers[0]!.digest));
  withTempDir((dir) => {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);
    execFileSync('tar', ['-xpf', '-', '-C', rootfs, '--same-owner', '--numeric-owner'], { input: layer });
    assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
    assert.equal(statSync(join(rootfs, 'home/app')).uid, 1000);
    const run = (...args: string[]) => spawnSync('chroot', [rootfs, ...args], { encoding: 'utf8', env: { PATH: '/bin:/sbin:/usr/bin:/usr/sbin' } });
    const echo = run('/bin/busybox', 'echo', 'hello from busybox');
    assert.equal(echo.status, 0, echo.stderr);
    assert.equal(echo.stdout, 'hello from busybox\n');
    // Through the applet symlinks and /etc/passwd + /etc/group inside the root.
    const ids = run('/bin/sh', '-c', 'id -u app; id -G app; id -u nobody; ls /bin | wc -l');
    assert.equal(ids.status, 0, ids.stderr);
    const [uid, groups, nobody, count] = ids.stdout.trim().split('\n');
    assert.equal(uid, '1000');
    assert.deepEqual(groups?.split(' ').sort(), ['1000', '1001']);
    assert.equal(nobody, '65534');
    assert.ok(Number(count) > 50, `bin has ${count} entries`);
  });
});

test('the layered image merges to the documented view', { skip }, async () => {
  const { layered, registry } = await sharedImages();
  assert.equal(layered.layers.length, 3);
  const tars = await Promise.all(layered.layers.map(async (l) => gunzipSync(await fetchBlob(registry, layered.repository, l.digest))));
  tars.forEach((tar, i) => assert.equal(sha256Digest(tar), layered.layers[i]!.diffId));
  withTempDir((dir) => {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);
    applyLayersWithGnuTar(rootfs, tars);
    assert.deepEqual(diffMergedView(rootfs), []);
    // And the check can fail: break the view and it notices.
    rmSync(join(rootfs, 'data/keep.txt'));
    writeFileSync(join(rootfs, 'data/remove-me.txt'), 'back');
    assert.deepEqual(diffMergedView(rootfs).sort(), ['data/keep.txt: missing', 'data/remove-me.txt: present, want absent']);
  });
  // The binary xattr is in the second layer, 6 bytes long.
  const listing = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-tvvvf', '-'], { input: tars[1], encoding: 'utf8' });
  const value = Buffer.from(LAYERED_EXPECTED.present['data/xattr.bin']!.xattrs!['user.didactic']!, 'base64');
  assert.match(listing, new RegExp(`x: ${value.length} user\\.didactic`));
});

test('a registry with htpasswd answers 401 without credentials and 200 with them', { skip }, async () => {
  const credentials = { user: 'tester', password: 's3cret-pass' };
  const registry = await startRegistry({ htpasswd: credentials });
  try {
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const anonymous = await fetch(`${registry.url}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    const wrong = await fetch(`${registry.url}/v2/`, { headers: { authorization: basic('tester', 'nope') } });
    assert.equal(wrong.status, 401);
    const right = await fetch(`${registry.url}/v2/`, { headers: { authorization: basic(credentials.user, credentials.password) } });
    assert.equal(right.status, 200);
    assert.deepEqual(registry.credentials, credentials);
  } finally {
    await registry.stop();
  }
  await assert.rejects(fetch(`${registry.url}/v2/`));
});
