import { test } from 'node:test';
import assert from 'node:assert/strict';
import { images, type Database, type LayerRecord, type ImageRecord } from './index.js';
import { openTempDatabase } from './temp-database.js';

const withDb = (t: { after(fn: () => void): void }): Database => openTempDatabase(t, 'dctr-images-').db;

const hex = (c: string) => `sha256:${c.repeat(64)}`;
const layer = (c: string, parent: string | null): LayerRecord => ({
  chainId: hex(c),
  diffId: hex(c),
  parentChainId: parent,
  blobDigest: null,
  mediaType: null,
  compressedSize: null,
  size: 10,
});
const image = (id: string, repoDigests: string[] = []): ImageRecord => ({
  id,
  manifestDigest: null,
  repoDigests,
  config: '{}',
  os: 'linux',
  architecture: 'amd64',
  variant: null,
  size: 20,
  created: null,
  addedAt: new Date().toISOString(),
});

test('two images sharing a base layer: removing one keeps the shared layer', (t) => {
  const db = withDb(t);
  const base = layer('a', null);
  images.saveImage(db, image(hex('1')), [base, layer('b', base.chainId)], ['docker.io/library/one:latest']);
  images.saveImage(db, image(hex('2')), [base, layer('c', base.chainId)], ['docker.io/library/two:latest']);
  assert.equal(images.countLayerRefs(db, base.chainId), 2);
  assert.deepEqual(images.getImage(db, hex('1'))?.layers, [hex('a'), hex('b')]);

  assert.deepEqual(images.deleteImage(db, hex('1')).map((l) => l.chainId), [hex('b')]);
  assert.equal(images.countLayerRefs(db, base.chainId), 1);
  assert.equal(images.imageIdForTag(db, 'docker.io/library/one:latest'), undefined);
  assert.deepEqual(images.deleteImage(db, hex('2')).map((l) => l.chainId), [hex('c'), hex('a')]);
  assert.deepEqual(images.listLayers(db), []);
});

test('tags move between images, leaving the old one dangling', (t) => {
  const db = withDb(t);
  images.saveImage(db, image(hex('1')), [layer('a', null)], ['r/x:latest']);
  images.saveImage(db, image(hex('2')), [layer('a', null)], ['r/x:latest']);
  assert.equal(images.imageIdForTag(db, 'r/x:latest'), hex('2'));
  assert.deepEqual(images.danglingImageIds(db), [hex('1')]);
  images.setTag(db, 'r/y:1', hex('1'));
  assert.deepEqual(images.danglingImageIds(db), []);
  assert.ok(images.removeTag(db, 'r/y:1'));
  assert.ok(!images.removeTag(db, 'r/y:1'));
  assert.throws(() => images.setTag(db, 'r/z:1', hex('9')), /no such image/);
});

test('lookups by id prefix and by repo digest; saving again merges repo digests', (t) => {
  const db = withDb(t);
  images.saveImage(db, image(`sha256:ab${'0'.repeat(62)}`, ['r/x@sha256:' + '5'.repeat(64)]), [layer('a', null)], []);
  images.saveImage(db, image(`sha256:ac${'0'.repeat(62)}`), [layer('a', null)], []);
  assert.equal(images.imageIdsByPrefix(db, 'a').length, 2);
  assert.deepEqual(images.imageIdsByPrefix(db, 'ab'), [`sha256:ab${'0'.repeat(62)}`]);
  assert.deepEqual(images.imageIdsByPrefix(db, 'a%'), []);
  assert.deepEqual(images.imageIdsByRepoDigest(db, 'r/x@sha256:' + '5'.repeat(64)), [`sha256:ab${'0'.repeat(62)}`]);
  images.saveImage(db, image(`sha256:ab${'0'.repeat(62)}`, ['q/y@sha256:' + '6'.repeat(64)]), [layer('a', null)], []);
  assert.deepEqual(images.getImage(db, `sha256:ab${'0'.repeat(62)}`)?.repoDigests, ['r/x@sha256:' + '5'.repeat(64), 'q/y@sha256:' + '6'.repeat(64)]);
});
