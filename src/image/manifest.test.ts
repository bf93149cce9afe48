import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { MEDIA_TYPES } from './media-types.js';
import { isImageConfig, isImageIndex, isImageManifest, parseImageConfig, parseManifest } from './manifest.js';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);

function ociManifest(extra: object = {}) {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: D1, size: 10 },
    layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: D2, size: 20 }],
    ...extra,
  };
}

function dockerList() {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.dockerManifestList,
    manifests: [
      { mediaType: MEDIA_TYPES.dockerManifest, digest: D1, size: 5, platform: { architecture: 'amd64', os: 'linux' } },
    ],
  };
}

function throwsIntegrity(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isEngineError(e, 'INTEGRITY'), String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

test('parses the four kinds by header', () => {
  const m = parseManifest(JSON.stringify(ociManifest()), MEDIA_TYPES.ociManifest);
  assert.equal(m.kind, 'manifest');
  assert.equal(m.mediaType, MEDIA_TYPES.ociManifest);
  const d = parseManifest(JSON.stringify({ ...ociManifest(), mediaType: MEDIA_TYPES.dockerManifest }), MEDIA_TYPES.dockerManifest);
  assert.equal(d.kind, 'manifest');
  assert.equal(d.mediaType, MEDIA_TYPES.dockerManifest);
  const l = parseManifest(Buffer.from(JSON.stringify(dockerList())), `${MEDIA_TYPES.dockerManifestList}; charset=utf-8`);
  assert.equal(l.kind, 'index');
  assert.equal(l.kind === 'index' && l.index.manifests[0]!.platform!.architecture, 'amd64');
  const i = parseManifest(JSON.stringify({ schemaVersion: 2, manifests: [] }), MEDIA_TYPES.ociIndex);
  assert.equal(i.kind, 'index');
  assert.equal(i.mediaType, MEDIA_TYPES.ociIndex);
});

test('a generic header defers to the document', () => {
  assert.equal(parseManifest(JSON.stringify(dockerList()), 'application/json').mediaType, MEDIA_TYPES.dockerManifestList);
  assert.equal(parseManifest(JSON.stringify(ociManifest()), 'text/plain').kind, 'manifest');
  const { mediaType: _omit, ...bare } = ociManifest();
  assert.equal(parseManifest(JSON.stringify(bare), undefined).mediaType, MEDIA_TYPES.ociManifest);
  assert.equal(parseManifest(JSON.stringify({ schemaVersion: 2, manifests: [] }), '').kind, 'index');
  throwsIntegrity(() => parseManifest(JSON.stringify({ schemaVersion: 2 }), ''), /neither mediaType nor/);
});

test('header and content disagreeing is refused', () => {
  throwsIntegrity(() => parseManifest(JSON.stringify(dockerList()), MEDIA_TYPES.ociManifest), /does not match/);
});

test('garbage and schema 1 are refused clearly', () => {
  throwsIntegrity(() => parseManifest('<html>oops</html>', MEDIA_TYPES.ociManifest), /not valid JSON.*<html>/);
  throwsIntegrity(() => parseManifest('[1,2]', ''), /document must be an object, not an array/);
  assert.throws(() => parseManifest('{"schemaVersion":1,"fsLayers":[]}', ''), (e: unknown) => isEngineError(e, 'NOT_IMPLEMENTED'));
  assert.throws(
    () => parseManifest('{"schemaVersion":2}', 'application/vnd.example+json'),
    (e: unknown) => isEngineError(e, 'NOT_IMPLEMENTED') && /application\/vnd.example\+json/.test(e.message),
  );
});

test('errors name the bad field', () => {
  const cases: Array<[object, RegExp]> = [
    [ociManifest({ schemaVersion: 3 }), /manifest: schemaVersion must be 2, not 3/],
    [ociManifest({ layers: [{ mediaType: 'x', digest: 'sha256:zz', size: 1 }] }), /manifest: layers\[0\]\.digest must be a sha256 digest/],
    [ociManifest({ layers: [{ mediaType: 'x', digest: D1, size: -1 }] }), /layers\[0\]\.size must be a non-negative integer/],
    [ociManifest({ layers: [{ mediaType: 'x', digest: D1, size: 1.5 }] }), /layers\[0\]\.size/],
    [ociManifest({ layers: [{ digest: D1, size: 1 }] }), /layers\[0\]\.mediaType must be a string/],
    [ociManifest({ config: null }), /manifest: config must be an object, not null/],
    [ociManifest({ layers: {} }), /manifest: layers must be an array/],
    [ociManifest({ annotations: { a: 1 } }), /annotations\["a"\] must be a string/],
  ];
  for (const [doc, pattern] of cases) throwsIntegrity(() => parseManifest(JSON.stringify(doc), MEDIA_TYPES.ociManifest), pattern);
  const list = dockerList();
  (list.manifests[0]!.platform as { os: unknown }).os = 7;
  throwsIntegrity(() => parseManifest(JSON.stringify(list), ''), /index: manifests\[0\]\.platform\.os must be a string/);
});

test('type guards', () => {
  assert.equal(isImageManifest(ociManifest()), true);
  assert.equal(isImageManifest(dockerList()), false);
  assert.equal(isImageIndex(dockerList()), true);
  assert.equal(isImageIndex(ociManifest()), false);
});

const CONFIG = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-01-01T00:00:00Z',
  config: {
    User: '1000:1000',
    Env: ['PATH=/usr/bin'],
    Entrypoint: null,
    Cmd: ['sh'],
    WorkingDir: '/',
    ExposedPorts: { '80/tcp': {} },
    Volumes: { '/data': {} },
    Labels: { a: 'b' },
    StopSignal: 'SIGTERM',
  },
  rootfs: { type: 'layers', diff_ids: [D1, D2] },
  history: [{ created_by: 'ADD x /', empty_layer: false }, { created_by: 'CMD', empty_layer: true }],
  docker_version: 'kept',
};

test('image config', () => {
  const cfg = parseImageConfig(JSON.stringify(CONFIG));
  assert.deepEqual(cfg.rootfs.diff_ids, [D1, D2]);
  assert.equal(cfg.config?.Cmd?.[0], 'sh');
  assert.equal(cfg.docker_version, 'kept');
  assert.equal(isImageConfig({ ...CONFIG, config: undefined }), true);
  const cases: Array<[object, RegExp]> = [
    [{ ...CONFIG, architecture: undefined }, /image config: architecture must be a string/],
    [{ ...CONFIG, rootfs: { type: 'x', diff_ids: [] } }, /rootfs\.type must be "layers"/],
    [{ ...CONFIG, rootfs: { type: 'layers', diff_ids: [D1, 'nope'] } }, /rootfs\.diff_ids\[1\] must be a sha256 digest/],
    [{ ...CONFIG, config: { Env: 'PATH=/' } }, /config\.Env must be an array of strings/],
    [{ ...CONFIG, config: { Cmd: ['a', 1] } }, /config\.Cmd\[1\] must be a string/],
    [{ ...CONFIG, config: { ExposedPorts: { '80/tcp': true } } }, /config\.ExposedPorts\["80\/tcp"\] must be an object/],
    [{ ...CONFIG, config: { Labels: { a: 1 } } }, /config\.Labels\["a"\] must be a string/],
    [{ ...CONFIG, history: [{ empty_layer: 'yes' }] }, /history\[0\]\.empty_layer must be a boolean/],
  ];
  for (const [doc, pattern] of cases) throwsIntegrity(() => parseImageConfig(JSON.stringify(doc)), pattern);
  throwsIntegrity(() => parseImageConfig('not json'), /image config is not valid JSON/);
});
