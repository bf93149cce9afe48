import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRecordingExplainer, isEngineError, resolvePaths } from '../common/index.js';
import { containers, volumes as volumeRows } from '../db/index.js';
import { createEngineState, type EngineState } from './state.js';
import {
  createVolume,
  inspectVolume,
  listVolumes,
  mergeRunMounts,
  mountsForInspect,
  parseRunMounts,
  prepareRunMounts,
  pruneVolumes,
  releaseContainerVolumes,
  removeVolume,
  volumeDataDir,
} from './volumes.js';
import type { Spec } from '../spec/index.js';

const isRoot = process.getuid?.() === 0;

function setUp(t: { after(fn: () => void | Promise<void>): void }): { state: EngineState; dir: string; rootfs: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-volumes-'));
  const state = createEngineState(resolvePaths({ root: path.join(dir, 'root'), runRoot: path.join(dir, 'run') }), createRecordingExplainer());
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(rootfs);
  t.after(async () => {
    await state.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { state, dir, rootfs };
}

let n = 0;
function newContainer(state: EngineState, name?: string): string {
  const id = ((++n).toString(16) + 'a'.repeat(64)).slice(0, 64);
  name ??= `c${n}`;
  containers.createContainer(state.db(), { id, name, imageId: null, imageRef: 'busybox', config: '{}' });
  return id;
}

test('volume create, ls, inspect (Docker\'s shape), create again is the same volume', async (t) => {
  const { state } = setUp(t);
  const made = await createVolume(state, { name: 'data', labels: { a: 'b' } });
  assert.deepEqual(Object.keys(made).sort(), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
  assert.equal(made.Driver, 'local');
  assert.equal(made.Scope, 'local');
  assert.equal(made.Mountpoint, path.join(state.paths.volumes, 'data', '_data'));
  assert.ok(fs.statSync(made.Mountpoint).isDirectory());
  assert.deepEqual((await createVolume(state, { name: 'data' })).CreatedAt, made.CreatedAt);
  const anonymous = await createVolume(state);
  assert.match(anonymous.Name, /^[0-9a-f]{64}$/);
  assert.deepEqual((await listVolumes(state)).map((v) => v.Name).sort(), [anonymous.Name, 'data'].sort());
  assert.deepEqual((await inspectVolume(state, 'data')).Labels, { a: 'b' });
  await assert.rejects(inspectVolume(state, 'nope'), (e: unknown) => isEngineError(e, 'NOT_FOUND'));
  await assert.rejects(createVolume(state, { name: 'bad/name' }), (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT'));
});

test('volume rm: refused while a container uses it, forced with force; files removed', async (t) => {
  const { state, rootfs } = setUp(t);
  const id = newContainer(state);
  prepareRunMounts(state, { containerId: id, rootfs, imageConfig: {}, parsed: parseRunMounts({ volumes: ['shared:/data'] }) });
  const data = volumeDataDir(state, 'shared');
  fs.writeFileSync(path.join(data, 'f'), 'x');
  await assert.rejects(removeVolume(state, 'shared'), (e: unknown) => isEngineError(e, 'CONFLICT') && /in use/.test((e as Error).message));
  assert.ok(fs.existsSync(data));
  await removeVolume(state, 'shared', { force: true });
  assert.equal(fs.existsSync(path.dirname(data)), false);
  await assert.rejects(removeVolume(state, 'shared'), (e: unknown) => isEngineError(e, 'NOT_FOUND'));
});

test('volume prune: unused anonymous volumes by default, every unused one with all', async (t) => {
  const { state, rootfs } = setUp(t);
  await createVolume(state, { name: 'keep' });
  const id = newContainer(state);
  prepareRunMounts(state, { containerId: id, rootfs, imageConfig: { Volumes: { '/anon': {} } }, parsed: parseRunMounts({ volumes: ['used:/used'] }) });
  const anon = volumeRows.listMounts(state.db(), id).find((m) => m.destination === '/anon')!.volumeName!;
  fs.writeFileSync(path.join(volumeDataDir(state, anon), 'f'), '12345');
  assert.deepEqual((await pruneVolumes(state)).VolumesDeleted, []);
  releaseContainerVolumes(state, id);
  const report = await pruneVolumes(state);
  assert.deepEqual(report.VolumesDeleted, [anon]);
  assert.equal(report.SpaceReclaimed, 5);
  assert.deepEqual((await pruneVolumes(state, { all: true })).VolumesDeleted.sort(), ['keep', 'used']);
  assert.deepEqual(await listVolumes(state), []);
});

test('run mounts: binds (made for -v, refused for --mount), named and anonymous volumes, tmpfs, in the spec and in inspect', async (t) => {
  const { state, dir, rootfs } = setUp(t);
  const id = newContainer(state);
  const made = path.join(dir, 'host', 'made');
  const parsed = parseRunMounts({
    volumes: [`${made}:/made:ro`, 'named:/named', '/anon'],
    tmpfs: ['/scratch:size=1m'],
  });
  const mounts = prepareRunMounts(state, { containerId: id, rootfs, imageConfig: {}, parsed });
  assert.ok(fs.statSync(made).isDirectory(), '-v makes a missing bind source');
  assert.deepEqual(mounts.map((m) => [m.destination, m.type, m.options?.at(-1)]), [
    ['/made', 'bind', 'ro'],
    ['/named', 'bind', 'rw'],
    ['/anon', 'bind', 'rw'],
    ['/scratch', 'tmpfs', 'rw'],
  ]);
  assert.equal(mounts[1]!.source, volumeDataDir(state, 'named'));
  const inspect = await mountsForInspect(state, id);
  assert.deepEqual(inspect.map((m) => [m.Type, m.Destination, m.RW, m.Name === undefined ? '-' : m.Name.length]), [
    ['bind', '/made', false, '-'],
    ['volume', '/named', true, 5],
    ['volume', '/anon', true, 64],
    ['tmpfs', '/scratch', true, '-'],
  ]);

  const other = newContainer(state);
  const missing = path.join(dir, 'host', 'missing');
  assert.throws(
    () => prepareRunMounts(state, { containerId: other, rootfs, imageConfig: {}, parsed: parseRunMounts({ mounts: [`type=bind,source=${missing},target=/m`] }) }),
    (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT') && /bind source path does not exist/.test((e as Error).message),
  );
  assert.equal(fs.existsSync(missing), false);
});

test('--volumes-from shares binds and volumes (not tmpfs), with ro forced; the inherited anonymous volume is not the new container\'s', async (t) => {
  const { state, rootfs } = setUp(t);
  const first = newContainer(state, 'first');
  prepareRunMounts(state, { containerId: first, rootfs, imageConfig: {}, parsed: parseRunMounts({ volumes: ['/anon', 'named:/named'], tmpfs: ['/t'] }) });
  const second = newContainer(state, 'second');
  const mounts = prepareRunMounts(state, { containerId: second, rootfs, imageConfig: {}, parsed: parseRunMounts({ volumesFrom: ['first:ro'] }) });
  assert.deepEqual(mounts.map((m) => [m.destination, m.options?.at(-1)]), [['/anon', 'ro'], ['/named', 'ro']]);
  assert.deepEqual(releaseContainerVolumes(state, second, { removeAnonymous: true }), []);
  const anon = volumeRows.listMounts(state.db(), first)[0]!.volumeName!;
  assert.deepEqual(releaseContainerVolumes(state, first, { removeAnonymous: true }), [anon]);
  assert.equal(fs.existsSync(volumeDataDir(state, anon)), false);
  assert.ok(fs.existsSync(volumeDataDir(state, 'named')), 'a named volume outlives its containers');
  assert.throws(() => parseRunMounts({ volumesFrom: ['x:rx'] }), (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT'));
  const third = newContainer(state);
  assert.throws(() => prepareRunMounts(state, { containerId: third, rootfs, imageConfig: {}, parsed: parseRunMounts({ volumesFrom: ['nobody'] }) }), (e: unknown) => isEngineError(e, 'NOT_FOUND'));
});

test('copy-up fills a new volume from the image, links and modes kept, symlinks copied and never followed', async (t) => {
  const { state, dir, rootfs } = setUp(t);
  const secret = path.join(dir, 'host-secret');
  fs.mkdirSync(secret);
  fs.writeFileSync(path.join(secret, 'passwd'), 'host secret\n');
  const app = path.join(rootfs, 'home/app');
  fs.mkdirSync(path.join(app, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(app, 'file.txt'), 'from the image\n', { mode: 0o640 });
  if (isRoot) fs.chownSync(path.join(app, 'file.txt'), 1000, 1001);
  fs.chmodSync(path.join(app, 'file.txt'), 0o4750);
  fs.linkSync(path.join(app, 'file.txt'), path.join(app, 'hard.txt'));
  fs.symlinkSync(secret, path.join(app, 'escape')); // aimed at the host: copied as a link
  fs.symlinkSync('/etc', path.join(rootfs, 'etc-link'));
  fs.mkdirSync(path.join(rootfs, 'etc'));
  fs.writeFileSync(path.join(rootfs, 'etc/hostname'), 'image\n');
  fs.chmodSync(app, 0o750);
  if (isRoot) {
    fs.chownSync(app, 1000, 1000);
  }
  const id = newContainer(state);
  prepareRunMounts(state, { containerId: id, rootfs, imageConfig: {}, parsed: parseRunMounts({ volumes: ['home:/home/app', 'etc:/etc-link', '/home/app/sub'] }) });
  const data = volumeDataDir(state, 'home');
  assert.equal(fs.readFileSync(path.join(data, 'file.txt'), 'utf8'), 'from the image\n');
  assert.equal(fs.statSync(path.join(data, 'file.txt')).mode & 0o7777, 0o4750);
  assert.equal(fs.statSync(data).mode & 0o7777, 0o750);
  assert.equal(fs.statSync(path.join(data, 'hard.txt')).ino, fs.statSync(path.join(data, 'file.txt')).ino);
  assert.equal(fs.readlinkSync(path.join(data, 'escape')), secret);
  assert.ok(fs.lstatSync(path.join(data, 'escape')).isSymbolicLink());
  if (isRoot) {
    assert.equal(fs.statSync(data).uid, 1000);
    assert.deepEqual([fs.statSync(path.join(data, 'file.txt')).uid, fs.statSync(path.join(data, 'file.txt')).gid], [1000, 1001]);
  }
  // /etc-link -> /etc is taken inside the rootfs: the image's /etc, not the host's.
  assert.deepEqual(fs.readdirSync(volumeDataDir(state, 'etc')), ['hostname']);
  assert.deepEqual(fs.readdirSync(path.dirname(data)), ['_data'], 'no staging dir left');

  // An existing volume with content is never overwritten.
  fs.writeFileSync(path.join(app, 'file.txt'), 'changed\n');
  releaseContainerVolumes(state, id);
  const next = newContainer(state);
  prepareRunMounts(state, { containerId: next, rootfs, imageConfig: {}, parsed: parseRunMounts({ volumes: ['home:/home/app'] }) });
  assert.equal(fs.readFileSync(path.join(data, 'file.txt'), 'utf8'), 'from the image\n');
  // nocopy leaves a new volume empty.
  prepareRunMounts(state, { containerId: newContainer(state), rootfs, imageConfig: {}, parsed: parseRunMounts({ volumes: ['empty:/home/app:nocopy'] }) });
  assert.deepEqual(fs.readdirSync(volumeDataDir(state, 'empty')), []);
});

test('a mount target that is a symlink to / is refused; explicit mounts on one path too', async (t) => {
  const { state, rootfs } = setUp(t);
  fs.symlinkSync('/', path.join(rootfs, 'data'));
  fs.symlinkSync('../../..', path.join(rootfs, 'up'));
  for (const flag of ['vol:/data', '/data', '/tmp:/up']) {
    assert.throws(
      () => prepareRunMounts(state, { containerId: newContainer(state), rootfs, imageConfig: {}, parsed: parseRunMounts({ volumes: [flag] }) }),
      (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT') && /resolves to the container's root/.test((e as Error).message),
      flag,
    );
  }
  assert.throws(() => parseRunMounts({ volumes: ['/a:/x'], tmpfs: ['/x'] }), (e: unknown) => isEngineError(e, 'INVALID_ARGUMENT') && /duplicate mount point/.test((e as Error).message));
});

test('mergeRunMounts keeps the defaults first and validates', () => {
  const spec = {
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/etc/hosts', type: 'bind', source: '/b/hosts', options: ['rbind', 'rprivate', 'rw'] },
    ],
  } as unknown as Spec;
  const invalidSpec = (e: unknown) => e instanceof Error;
  // The partial spec above is not valid as a whole: the merge validates it.
  assert.throws(() => mergeRunMounts(spec, [{ destination: '/data', type: 'bind', source: '/x', options: ['rbind'] }]), invalidSpec);
  assert.equal(mergeRunMounts(spec, []), spec);
});
