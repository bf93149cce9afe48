/**
 * Pulling images through the CLI binary, as users do, from the real
 * docker-registry on loopback: OCI, Docker schema 2 and zstd images, the
 * layered image stacked as a real overlay mount, a multi-platform index, and
 * a registry behind htpasswd basic auth with login/logout.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  diffMergedView,
  hostPlatform,
  platformString,
  pushWithSkopeo,
  sharedImages,
  writeTestImageLayout,
  type TestImages,
} from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';
import { runCli, runCliJson, runCliOk, type CliResult } from '../helpers/cli.js';
import { assertStoreHealthy, layerDirsOf } from '../helpers/store.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;


/** Runs the CLI against a temp root (asynchronously, so in-process servers keep answering). */
const cli = (root: TempRoot, args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> =>
  runCli(root, args, options);

let images: TestImages;
before(async () => {
  if (!skip) images = await sharedImages();
});

test('pulls an OCI, a Docker schema 2 and a zstd image, each into a fresh root', { skip }, async () => {
  // The three at once, each in its own root.
  const results = await Promise.allSettled((['busybox', 'busyboxDocker', 'busyboxZstd'] as const).map(async (name) => {
    const image = images[name];
    const root = createTempRoot('dctr-pull-');
    try {
      const pulled = await runCliOk(root, ['pull', image.ref]);
      assert.equal(pulled.stdout.trim(), image.ref);
      assert.match(pulled.stderr, /Pull complete/);
      const inspect = (await runCliJson(root, ['image', 'inspect', image.ref]))[0];
      assert.equal(inspect.Id, image.configDigest, name);
      assert.deepEqual(inspect.RootFS, { Type: 'layers', Layers: image.layers.map((l) => l.diffId) });
      assert.deepEqual(inspect.RepoDigests, [`${images.registry}/${image.repository}@${image.digest}`]);
      assert.deepEqual(inspect.RepoTags, [image.ref]);
      assert.equal(inspect.Os, 'linux');
      assert.equal(inspect.Architecture, hostPlatform().architecture);
      // The unpacked layer is a real root file system.
      const [dir] = layerDirsOf(root, inspect.RootFS.Layers);
      assert.ok(fs.statSync(path.join(dir!, 'bin/busybox')).isFile());
      assert.equal(fs.readlinkSync(path.join(dir!, 'bin/sh')), '/bin/busybox');
      assert.match(fs.readFileSync(path.join(dir!, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);
      assert.equal(fs.statSync(path.join(dir!, 'tmp')).mode & 0o7777, 0o1777);
      assert.equal(fs.statSync(path.join(dir!, 'home/app')).uid, 1000);
      // Stored blobs: the layer as the registry sent it, the config, the manifest.
      const blobs = fs.readdirSync(path.join(root.root, 'content/blobs/sha256'));
      for (const digest of [image.layers[0]!.digest, image.configDigest, image.digest]) assert.ok(blobs.includes(digest.slice(7)), `${name}: blob ${digest}`);
      await assertStoreHealthy(root);
    } finally {
      root.dispose();
    }
  }));
  for (const result of results) if (result.status === 'rejected') throw result.reason;
});

test('images, inspect and history speak Docker; a second pull downloads nothing', { skip }, async () => {
  const root = createTempRoot('dctr-pull-');
  try {
    const first = await runCliOk(root, ['pull', images.busybox.ref]);
    assert.match(first.stderr, /Status: downloaded [1-9][\d.]*[kM]B for /);
    assert.doesNotMatch(first.stderr, /Already exists/);
    // The Docker-format image has the same layer: nothing to download but its config.
    const docker = await runCliOk(root, ['pull', images.busyboxDocker.ref]);
    assert.match(docker.stderr, /Already exists/);
    assert.match(docker.stderr, /Status: downloaded 0B for /);
    const again = await runCliOk(root, ['pull', images.busybox.ref]);
    assert.match(again.stderr, /Already exists/);
    assert.match(again.stderr, /Status: downloaded 0B for /);

    const list = await runCliJson<any[]>(root, ['images']);
    const byTag = new Map(list.flatMap((row) => (row.RepoTags as string[]).map((tag) => [tag, row] as const)));
    assert.equal(byTag.get(`${images.registry}/didactic/busybox:latest`)?.Id, images.busybox.configDigest);
    assert.equal(byTag.get(`${images.registry}/didactic/busybox-docker:latest`)?.Id, images.busyboxDocker.configDigest);
    assert.equal(list.length, images.busybox.configDigest === images.busyboxDocker.configDigest ? 1 : 2);
    for (const row of list) assert.ok(row.Size > 1_000_000, `size ${row.Size}`);

    // The table form shows the familiar name split into repository and tag.
    const table = (await runCliOk(root, ['images'])).stdout;
    assert.match(table, new RegExp(`${images.registry.replace(/\./g, '\\.')}/didactic/busybox\\s+latest\\s+${images.busybox.configDigest.slice(7, 19)}`));

    const inspect = (await runCliJson(root, ['image', 'inspect', images.busybox.configDigest.slice(7, 19)]))[0];
    assert.equal(inspect.Id, images.busybox.configDigest);
    assert.deepEqual(inspect.Config.Cmd, ['sh']);
    assert.equal(inspect.Descriptor.digest, images.busybox.digest);

    const history = await runCliJson<any[]>(root, ['history', images.busybox.ref]);
    assert.equal(history.length, 1);
    assert.equal(history[0].CreatedBy, 'busybox root file system');
    assert.equal(history[0].Id, images.busybox.configDigest);
    assert.ok(history[0].Size > 1_000_000);
    assert.deepEqual(history[0].Tags, byTag.get(images.busybox.ref)!.RepoTags);
    assert.ok(history[0].Tags.includes(images.busybox.ref));

    const missing = await cli(root, ['image', 'inspect', `${images.registry}/didactic/nothing:here`]);
    assert.equal(missing.status, 1, missing.stderr); // as docker image inspect does
    assert.match(missing.stderr, /no such image/);
    await assertStoreHealthy(root);
  } finally {
    root.dispose();
  }
});

test('the layered image, its layers stacked as overlay lower dirs, gives the expected merged view', { skip }, async (t) => {
  const root = createTempRoot('dctr-pull-');
  const merged = path.join(root.dir, 'merged');
  t.after(() => {
    if (mountsBelow(merged).length > 0) spawnSync('umount', [merged]);
    root.dispose();
  });
  await runCliOk(root, ['pull', images.layered.ref]);
  const inspect = (await runCliJson(root, ['image', 'inspect', images.layered.ref]))[0];
  assert.deepEqual(inspect.RootFS.Layers, images.layered.layers.map((l) => l.diffId));
  const dirs = layerDirsOf(root, inspect.RootFS.Layers);
  // In a single layer, deletions are overlay whiteouts: 0/0 character devices.
  const whiteout = fs.lstatSync(path.join(dirs[2]!, 'data/remove-me.txt'));
  assert.ok(whiteout.isCharacterDevice());
  assert.equal(whiteout.rdev, 0);
  fs.mkdirSync(merged);
  const mount = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${[...dirs].reverse().join(':')}`, merged], { encoding: 'utf8' });
  assert.equal(mount.status, 0, mount.stderr);
  try {
    assert.deepEqual(diffMergedView(merged), []);
    const xattr = spawnSync('getfattr', ['--absolute-names', '-n', 'user.didactic', '-e', 'base64', path.join(merged, 'data/xattr.bin')], { encoding: 'utf8' });
    if (xattr.error === undefined) assert.match(xattr.stdout, /user\.didactic=0sAAEC/);
  } finally {
    const umount = spawnSync('umount', [merged], { encoding: 'utf8' });
    assert.equal(umount.status, 0, umount.stderr);
  }
  assert.deepEqual(mountsBelow(root.dir), []);
  await assertStoreHealthy(root);
});

test('a multi-platform image: the host by default, --platform picks, an unknown platform lists what exists', { skip }, async () => {
  const index = images.multiPlatform;
  const host = platformString(hostPlatform());
  const root = createTempRoot('dctr-pull-');
  try {
    await runCliOk(root, ['pull', index.ref]);
    let inspect = (await runCliJson(root, ['image', 'inspect', index.ref]))[0];
    const hostEntry = index.manifests.find((m) => platformString(m.platform) === host)!;
    assert.equal(inspect.Id, hostEntry.configDigest);
    assert.equal(inspect.Architecture, hostPlatform().architecture);
    // The repo digest is the index's; the descriptor is the chosen manifest.
    assert.deepEqual(inspect.RepoDigests, [`${images.registry}/${index.repository}@${index.digest}`]);
    assert.equal(inspect.Descriptor.digest, hostEntry.digest);
    let top = layerDirsOf(root, inspect.RootFS.Layers).at(-1)!;
    assert.equal(fs.readFileSync(path.join(top, 'platform.txt'), 'utf8'), `${host}\n`);

    await runCliOk(root, ['pull', '--platform', 'linux/arm64', index.ref]);
    inspect = (await runCliJson(root, ['image', 'inspect', index.ref]))[0];
    const arm = index.manifests.find((m) => platformString(m.platform) === 'linux/arm64')!;
    assert.equal(inspect.Id, arm.configDigest);
    assert.equal(inspect.Architecture, 'arm64');
    top = layerDirsOf(root, inspect.RootFS.Layers).at(-1)!;
    assert.equal(fs.readFileSync(path.join(top, 'platform.txt'), 'utf8'), 'linux/arm64\n');

    const none = await cli(root, ['pull', '--platform', 'linux/s390x', index.ref]);
    assert.equal(none.status, 125, none.stderr);
    assert.match(none.stderr, /linux\/s390x/);
    for (const platform of ['linux/amd64', 'linux/arm64', 'linux/arm/v7']) assert.ok(none.stderr.includes(platform), `${platform} in: ${none.stderr}`);
    await assertStoreHealthy(root);
  } finally {
    root.dispose();
  }
});

test('a registry with basic auth: refused without credentials, login stores them (0600, auths), logout forgets', { skip }, async (t) => {
  const credentials = { user: 'learner', password: 'pa55-w0rd!' };
  let registry: TestRegistry | undefined;
  const root = createTempRoot('dctr-auth-');
  t.after(async () => {
    root.dispose();
    await registry?.stop();
  });
  registry = await startRegistry({ htpasswd: credentials });
  const layoutDir = path.join(root.dir, 'layout');
  writeTestImageLayout(layoutDir);
  const ref = `${registry.host}/private/busybox:1.0`;
  await pushWithSkopeo(layoutDir, 'busybox', ref, { credentials });
  const authFile = path.join(root.dir, 'auth.json');

  const refused = await cli(root, ['pull', ref]);
  assert.equal(refused.status, 125);
  assert.match(refused.stderr, /authentication required/);
  assert.ok(refused.stderr.includes(`${registry.host}/private/busybox`), refused.stderr);
  assert.deepEqual(await runCliJson(root, ['images']), []);

  const wrong = await cli(root, ['login', registry.host, '--username', credentials.user, '--password-stdin'], { input: 'not-it\n' });
  assert.equal(wrong.status, 125);
  assert.match(wrong.stderr, /invalid username or password/);
  assert.ok(!wrong.stderr.includes('not-it'));
  assert.equal(fs.existsSync(authFile), false);

  const login = await runCliOk(root, ['login', registry.host, '--username', credentials.user, '--password-stdin'], { input: `${credentials.password}\n` });
  assert.match(login.stdout, /Login Succeeded/);
  assert.equal(fs.statSync(authFile).mode & 0o777, 0o600);
  const file = JSON.parse(fs.readFileSync(authFile, 'utf8'));
  assert.deepEqual(Object.keys(file.auths), [registry.host]);
  assert.equal(Buffer.from(file.auths[registry.host].auth, 'base64').toString(), `${credentials.user}:${credentials.password}`);

  const pulled = await runCliOk(root, ['pull', ref]);
  assert.ok(!pulled.stderr.includes(credentials.password));
  assert.equal((await runCliJson(root, ['image', 'inspect', ref]))[0].RepoTags[0], ref);

  await runCliOk(root, ['logout', registry.host]);
  assert.deepEqual(JSON.parse(fs.readFileSync(authFile, 'utf8')).auths ?? {}, {});
  const after = await cli(root, ['pull', ref]);
  assert.equal(after.status, 125);
  assert.match(after.stderr, /authentication required/);
  await assertStoreHealthy(root);
});
