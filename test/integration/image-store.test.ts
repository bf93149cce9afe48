/**
 * The image store through the CLI: tag, rmi (tags first, then the image,
 * then only the layers and blobs no other image uses), prune, `image new`
 * from tarballs made by GNU tar, and `check` finding hand-made corruption.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { sharedImages, type TestImages } from '../helpers/images.js';
import { createTempRoot, type TempRoot } from '../helpers/tmp-root.js';
import { runCli, runCliJson, runCliOk, type CliResult } from '../helpers/cli.js';
import { assertStoreHealthy, layerDirsOf } from '../helpers/store.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;


const cli = (root: TempRoot, args: string[]): Promise<CliResult> => runCli(root, args);

function blobFiles(root: TempRoot): string[] {
  const dir = path.join(root.root, 'content/blobs/sha256');
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

let images: TestImages;
before(async () => {
  if (!skip) images = await sharedImages();
});

test('tag and rmi: tags go first, then the image, then only the layers and blobs nobody else uses', { skip }, async () => {
  const root = createTempRoot('dctr-store-');
  try {
    await runCliOk(root, ['pull', images.busybox.ref]);
    await runCliOk(root, ['pull', images.layered.ref]);
    const [base, second, third] = layerDirsOf(root, images.layered.layers.map((l) => l.diffId));
    const [busyboxLayer] = layerDirsOf(root, images.busybox.layers.map((l) => l.diffId));
    assert.equal(busyboxLayer, base, 'busybox and layered share their bottom layer');
    const sharedBlob = images.busybox.layers[0]!.digest.slice(7);
    assert.equal(images.layered.layers[0]!.digest.slice(7), sharedBlob);

    await runCliOk(root, ['tag', images.busybox.ref, 'mine:1']);
    await runCliOk(root, ['image', 'tag', 'mine:1', 'localhost:5000/other/name']);
    let list = await runCliJson<any[]>(root, ['images']);
    const busybox = list.find((row) => row.Id === images.busybox.configDigest);
    assert.deepEqual([...busybox.RepoTags].sort(), [images.busybox.ref, 'localhost:5000/other/name:latest', 'mine:1'].sort());
    assert.equal((await runCliJson(root, ['image', 'inspect', 'mine:1']))[0].Id, images.busybox.configDigest);
    await assertStoreHealthy(root);

    // Removing one of several tags only untags.
    let rm = await runCliOk(root, ['rmi', images.busybox.ref]);
    assert.equal(rm.stdout.trim(), `Untagged: ${images.busybox.ref}`);
    rm = await runCliOk(root, ['image', 'rm', 'localhost:5000/other/name']);
    assert.equal(rm.stdout.trim(), 'Untagged: localhost:5000/other/name:latest');
    assert.ok(fs.existsSync(base!));

    // The last tag takes the image with it; the shared bottom layer stays for layered.
    rm = await runCliOk(root, ['rmi', 'mine:1']);
    assert.deepEqual(rm.stdout.trim().split('\n'), ['Untagged: mine:1', `Deleted: ${images.busybox.configDigest}`]);
    assert.ok(fs.existsSync(path.join(base!, 'bin/busybox')), 'the shared layer is still there');
    let blobs = blobFiles(root);
    assert.ok(blobs.includes(sharedBlob), 'the shared layer blob is still there');
    assert.ok(!blobs.includes(images.busybox.configDigest.slice(7)), 'busybox config removed');
    assert.ok(!blobs.includes(images.busybox.digest.slice(7)), 'busybox manifest removed');
    list = await runCliJson<any[]>(root, ['images']);
    assert.deepEqual(list.map((row) => row.Id), [images.layered.configDigest]);
    await assertStoreHealthy(root);

    const unknown = await cli(root, ['rmi', 'mine:1']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no such image: mine:1/);

    rm = await runCliOk(root, ['image', 'del', images.layered.ref]);
    assert.match(rm.stdout, new RegExp(`Deleted: ${images.layered.configDigest}`));
    for (const dir of [base!, second!, third!]) assert.equal(fs.existsSync(dir), false, `${dir} removed`);
    assert.deepEqual(blobFiles(root), []);
    assert.deepEqual(await runCliJson(root, ['images']), []);
    await assertStoreHealthy(root);
  } finally {
    root.dispose();
  }
});

/** A small root file system, packed by GNU tar as .tar and .tar.gz. */
function makeRootfsTarballs(dir: string): { tar: string; tgz: string } {
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(path.join(tree, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'bin'));
  fs.mkdirSync(path.join(tree, 'srv/data'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'etc/motd'), 'welcome to a hand-made root\n');
  fs.writeFileSync(path.join(tree, 'bin/hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  fs.symlinkSync('hello', path.join(tree, 'bin/hi'));
  fs.writeFileSync(path.join(tree, 'srv/data/owned'), 'owned by 1234\n');
  fs.chownSync(path.join(tree, 'srv/data/owned'), 1234, 1234);
  const tar = path.join(dir, 'rootfs.tar');
  const tgz = path.join(dir, 'rootfs.tar.gz');
  for (const [file, flags] of [[tar, '-cf'], [tgz, '-czf']] as const) {
    const result = spawnSync('tar', ['--numeric-owner', '-C', tree, flags, file, '.'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  }
  return { tar, tgz };
}

test('image new makes a one-layer image from a plain or gzip tarball; a missing file records nothing', { skip }, async () => {
  const root = createTempRoot('dctr-store-');
  try {
    const { tar, tgz } = makeRootfsTarballs(root.dir);

    const missing = await cli(root, ['image', 'new', 'ghost', '--file', path.join(root.dir, 'no-such.tar')]);
    assert.equal(missing.status, 125);
    assert.match(missing.stderr, /image new ghost: cannot read .*no-such\.tar/);
    assert.deepEqual(await runCliJson(root, ['images']), []);
    assert.deepEqual(blobFiles(root), []);

    const garbage = path.join(root.dir, 'garbage.tar');
    fs.writeFileSync(garbage, 'this is not a tar archive at all, just words\n'.repeat(40));
    const refused = await cli(root, ['image', 'new', 'garbage', '--file', garbage]);
    assert.equal(refused.status, 125, refused.stderr);
    assert.match(refused.stderr, /image new garbage/);
    assert.deepEqual(await runCliJson(root, ['images']), []);
    assert.deepEqual(blobFiles(root), [], 'a refused tarball leaves no blob behind');
    assert.deepEqual(fs.readdirSync(path.join(root.root, 'layers')), [], 'nor a layer directory');
    await assertStoreHealthy(root);

    const plainId = (await runCliOk(root, ['image', 'new', 'handmade', '--file', tar])).stdout.trim();
    const inspect = (await runCliJson(root, ['image', 'inspect', 'handmade']))[0];
    assert.equal(inspect.Id, plainId);
    assert.deepEqual(inspect.RepoTags, ['handmade:latest']);
    assert.deepEqual(inspect.RepoDigests, []);
    const diffId = sha256(fs.readFileSync(tar));
    assert.deepEqual(inspect.RootFS, { Type: 'layers', Layers: [diffId] });
    assert.equal(inspect.Os, 'linux');
    const [dir] = layerDirsOf(root, [diffId]);
    assert.equal(fs.readFileSync(path.join(dir!, 'etc/motd'), 'utf8'), 'welcome to a hand-made root\n');
    assert.equal(fs.statSync(path.join(dir!, 'bin/hello')).mode & 0o777, 0o755);
    assert.equal(fs.readlinkSync(path.join(dir!, 'bin/hi')), 'hello');
    assert.equal(fs.statSync(path.join(dir!, 'srv/data/owned')).uid, 1234);
    const history = await runCliJson<any[]>(root, ['history', 'handmade']);
    assert.equal(history.length, 1);
    assert.match(history[0].CreatedBy, /image new handmade --file .*rootfs\.tar/);
    assert.ok(blobFiles(root).includes(diffId.slice(7)), 'the plain tarball is its own blob');
    await assertStoreHealthy(root);

    // From a URL (a small HTTP server in this process; the CLI runs asynchronously beside it).
    const server = http.createServer((req, res) => {
      if (req.url !== '/rootfs.tar.gz') {
        res.writeHead(404).end('not here');
        return;
      }
      const body = fs.readFileSync(tgz);
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const gone = await cli(root, ['image', 'new', 'fromurl', '--url', `${base}/missing.tar`]);
      assert.equal(gone.status, 125);
      assert.match(gone.stderr, /image new fromurl: .*missing\.tar answered 404/);
      await runCliOk(root, ['image', 'new', 'fromurl', '--url', `${base}/rootfs.tar.gz`]);
      const fromUrl = (await runCliJson(root, ['image', 'inspect', 'fromurl']))[0];
      assert.deepEqual(fromUrl.RootFS.Layers, [sha256(gunzipSync(fs.readFileSync(tgz)))]);
      assert.match((await runCliJson<any[]>(root, ['history', 'fromurl']))[0].CreatedBy, /--url http:\/\/127\.0\.0\.1:\d+\/rootfs\.tar\.gz/);
      await runCliOk(root, ['rmi', 'fromurl']);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }

    const gzId = (await runCliOk(root, ['image', 'new', 'handmade:gz', '--file', tgz, '--message', 'from gzip'])).stdout.trim();
    const gz = (await runCliJson(root, ['image', 'inspect', 'handmade:gz']))[0];
    assert.equal(gz.Id, gzId);
    assert.deepEqual(gz.RootFS.Layers, [sha256(gunzipSync(fs.readFileSync(tgz)))]);
    assert.equal(gz.Comment, 'from gzip');
    assert.ok(blobFiles(root).includes(sha256(fs.readFileSync(tgz)).slice(7)), 'the gzip tarball is kept as the layer blob');
    await assertStoreHealthy(root);
  } finally {
    root.dispose();
  }
});

test('prune removes dangling images only, with their unused layers', { skip }, async () => {
  const root = createTempRoot('dctr-store-');
  try {
    const { tar } = makeRootfsTarballs(root.dir);
    const firstId = (await runCliOk(root, ['image', 'new', 'moving', '--file', tar])).stdout.trim();
    const firstLayer = (await runCliJson(root, ['image', 'inspect', 'moving']))[0].RootFS.Layers as string[];
    // Same name, different content: the first image loses its tag and dangles.
    fs.appendFileSync(path.join(root.dir, 'tree/etc/motd'), 'second edition\n');
    const second = path.join(root.dir, 'second.tar');
    assert.equal(spawnSync('tar', ['-C', path.join(root.dir, 'tree'), '-cf', second, '.']).status, 0);
    const secondId = (await runCliOk(root, ['image', 'new', 'moving', '--file', second])).stdout.trim();
    assert.notEqual(firstId, secondId);
    const table = (await runCliOk(root, ['images'])).stdout;
    assert.match(table, /<none>\s+<none>/);

    const report = await runCliJson(root, ['image', 'prune']);
    assert.deepEqual(report.ImagesDeleted, [{ Deleted: firstId }]);
    assert.ok(report.SpaceReclaimed > 0);
    assert.deepEqual((await runCliJson<any[]>(root, ['images'])).map((row) => row.Id), [secondId]);
    assert.equal(fs.existsSync(layerDirsOf(root, firstLayer)[0]!), false);
    assert.deepEqual((await runCliJson(root, ['image', 'prune'])).ImagesDeleted, []);
    await assertStoreHealthy(root);
  } finally {
    root.dispose();
  }
});

test('check finds a blob corrupted by hand and a layer directory that went missing', { skip }, async () => {
  const root = createTempRoot('dctr-store-');
  try {
    await runCliOk(root, ['pull', images.busybox.ref]);
    await assertStoreHealthy(root);
    const layerBlob = path.join(root.root, 'content/blobs/sha256', images.busybox.layers[0]!.digest.slice(7));
    const bytes = fs.readFileSync(layerBlob);
    bytes[100] = bytes[100]! ^ 0x01;
    fs.writeFileSync(layerBlob, bytes);
    let check = await cli(root, ['check', '--format', 'json']);
    assert.equal(check.status, 1);
    let report = JSON.parse(check.stdout);
    assert.equal(report.healthy, false);
    assert.deepEqual(report.blobs.bad.map((b: { name: string }) => b.name), [images.busybox.layers[0]!.digest]);
    const table = await cli(root, ['check']);
    assert.equal(table.status, 1);
    assert.match(table.stdout, new RegExp(`bad blob ${images.busybox.layers[0]!.digest}`));

    const [dir] = layerDirsOf(root, images.busybox.layers.map((l) => l.diffId));
    fs.rmSync(dir!, { recursive: true });
    check = await cli(root, ['check', '--format', 'json']);
    report = JSON.parse(check.stdout);
    assert.deepEqual(report.layers.missing, [images.busybox.layers[0]!.diffId]);
  } finally {
    root.dispose();
  }
});
