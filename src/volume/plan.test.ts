import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import type { Mount } from '../spec/index.js';
import {
  imageVolumeRequests,
  inheritedRequest,
  inspectMountOf,
  mergeMountRequests,
  mergeSpecMounts,
  ociMountOf,
  parseMountFlag,
  parseTmpfsFlag,
  parseVolumeFlag,
  recordedMountOf,
} from './index.js';

test('image VOLUMEs become anonymous volume requests in path order', () => {
  const requests = imageVolumeRequests({ '/var/lib/db/': {}, '/data': {} });
  assert.deepEqual(requests.map((r) => [r.type, r.source, r.target]), [['volume', '', '/data'], ['volume', '', '/var/lib/db']]);
  assert.deepEqual(imageVolumeRequests(null), []);
  assert.throws(() => imageVolumeRequests({ '/': {} }), (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT'));
  assert.throws(() => imageVolumeRequests({ data: {} }), (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT'));
});

test('explicit mounts win over inherited ones and image volumes; two explicit on one path is an error', () => {
  const explicit = [parseVolumeFlag('/host:/data'), parseTmpfsFlag('/run')];
  const inherited = [inheritedRequest({ type: 'volume', name: 'shared', source: '/v/shared/_data', destination: '/run', mode: '', rw: true, propagation: '' }, 'other', 'ro')];
  const image = imageVolumeRequests({ '/data': {}, '/cache': {}, '/run': {} });
  const merged = mergeMountRequests({ explicit, inherited, image });
  assert.deepEqual(merged.map((r) => `${r.type}:${r.target}`), ['bind:/data', 'tmpfs:/run', 'volume:/cache']);
  assert.deepEqual(mergeMountRequests({ inherited, image }).map((r) => `${r.type}:${r.source}:${r.target}:${r.readonly}`), [
    'volume:shared:/run:true',
    'volume::/cache:false',
    'volume::/data:false',
  ]);
  assert.throws(
    () => mergeMountRequests({ explicit: [parseVolumeFlag('/a:/x'), parseMountFlag('type=tmpfs,target=/x/')] }),
    (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT') && /duplicate mount point: \/x/.test((e as Error).message),
  );
});

test('OCI mounts: binds and volumes are rbind with propagation and ro|rw; tmpfs gets Docker\'s defaults', () => {
  assert.deepEqual(ociMountOf(parseVolumeFlag('/h:/c:ro,rslave'), '/h'), { destination: '/c', type: 'bind', source: '/h', options: ['rbind', 'rslave', 'ro'] });
  assert.deepEqual(ociMountOf(parseVolumeFlag('vol:/c'), '/root/volumes/vol/_data'), {
    destination: '/c',
    type: 'bind',
    source: '/root/volumes/vol/_data',
    options: ['rbind', 'rprivate', 'rw'],
  });
  assert.deepEqual(ociMountOf(parseTmpfsFlag('/t:size=1m,mode=700,exec'), ''), {
    destination: '/t',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['noexec', 'nosuid', 'nodev', 'exec', 'size=1048576', 'mode=0700', 'rw'],
  });
  assert.throws(() => ociMountOf(parseVolumeFlag('vol:/c'), 'relative'), (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT'));
});

test('recorded mounts in Docker\'s inspect shape', () => {
  assert.deepEqual(inspectMountOf(recordedMountOf(parseVolumeFlag('vol:/c:ro'), '/r/volumes/vol/_data', false)), {
    Type: 'volume',
    Name: 'vol',
    Source: '/r/volumes/vol/_data',
    Destination: '/c',
    Driver: 'local',
    Mode: 'ro',
    RW: false,
    Propagation: '',
  });
  assert.deepEqual(inspectMountOf(recordedMountOf(parseVolumeFlag('/h:/c'), '/h', false)), {
    Type: 'bind',
    Source: '/h',
    Destination: '/c',
    Mode: '',
    RW: true,
    Propagation: 'rprivate',
  });
  assert.deepEqual(inspectMountOf(recordedMountOf(parseTmpfsFlag('/t'), '', false)), { Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '' });
  assert.equal(recordedMountOf(parseVolumeFlag('/anon'), '/x', true).anonymous, true);
});

test('merged into the spec: defaults first and in order, a user mount replaces the spec\'s on its path, parents before children', () => {
  const spec: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm' },
    { destination: '/etc/resolv.conf', type: 'bind', source: '/b/resolv.conf' },
    { destination: '/etc/hosts', type: 'bind', source: '/b/hosts' },
  ];
  const user: Mount[] = [
    { destination: '/data/sub', type: 'bind', source: '/x' },
    { destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs' },
    { destination: '/data', type: 'bind', source: '/y' },
    { destination: '/etc/hosts', type: 'bind', source: '/mine' },
  ];
  const merged = mergeSpecMounts(spec, user, ['/proc', '/dev', '/dev/shm']);
  assert.deepEqual(merged.map((m) => `${m.destination}=${m.source}`), [
    '/proc=proc',
    '/dev=tmpfs',
    '/data=/y',
    '/etc/resolv.conf=/b/resolv.conf',
    '/data/sub=/x',
    '/dev/shm=tmpfs',
    '/etc/hosts=/mine',
  ]);
  assert.throws(() => mergeSpecMounts(spec, [user[0]!, user[0]!], []), (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT'));
});
