import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { containers, schemaVersion, volumes, type Database, type NewMount } from './index.js';
import { openTempDatabase } from './temp-database.js';

const withDb = (t: { after(fn: () => void): void }): Database => openTempDatabase(t, 'dctr-volumes-').db;

const id = (c: string) => c.repeat(64);
function container(db: Database, c: string): string {
  containers.createContainer(db, { id: id(c), name: `c-${c}`, imageId: null, imageRef: 'busybox', config: '{}' });
  return id(c);
}
const volumeMount = (name: string, destination: string, anonymous = false): NewMount => ({
  type: 'volume',
  volumeName: name,
  source: `/root/volumes/${name}/_data`,
  destination,
  mode: '',
  rw: true,
  propagation: '',
  anonymous,
});

test('migration 3 adds volumes and container_mounts', (t) => {
  const db = withDb(t);
  assert.ok(schemaVersion(db) >= 3);
  assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'container_mounts'").get());
});

test('create, get, list; a taken name is ALREADY_EXISTS; ensure makes it once', (t) => {
  const db = withDb(t);
  const made = volumes.createVolume(db, { name: 'data', labels: { team: 'a' } });
  assert.equal(made.driver, 'local');
  assert.deepEqual(made.labels, { team: 'a' });
  assert.equal(made.anonymous, false);
  assert.ok(!Number.isNaN(Date.parse(made.createdAt)));
  assert.throws(() => volumes.createVolume(db, { name: 'data' }), (e: unknown) => isEngineError(e, 'ALREADY_EXISTS'));
  assert.equal(volumes.ensureVolume(db, { name: 'data' }).created, false);
  const fresh = volumes.ensureVolume(db, { name: 'cache', anonymous: true });
  assert.equal(fresh.created, true);
  assert.equal(fresh.volume.anonymous, true);
  assert.deepEqual(volumes.listVolumes(db).map((v) => v.name), ['cache', 'data']);
  assert.equal(volumes.getVolume(db, 'nope'), undefined);
});

test('a volume named by a container\'s mounts is in use: rm refused unless forced, then the mount keeps its source', (t) => {
  const db = withDb(t);
  volumes.createVolume(db, { name: 'data' });
  const c = container(db, 'a');
  volumes.recordMounts(db, c, [volumeMount('data', '/data'), { ...volumeMount('x', '/x'), type: 'bind', volumeName: null, source: '/host' }]);
  assert.deepEqual(volumes.volumeUsers(db, 'data'), [{ containerId: c, containerName: 'c-a', containerState: 'created' }]);
  assert.throws(
    () => volumes.deleteVolume(db, 'data'),
    (e: unknown) => isEngineError(e, 'CONFLICT') && /volume is in use by 1 container\(s\): c-a/.test((e as Error).message),
  );
  assert.equal(volumes.deleteVolume(db, 'data', { force: true }), true);
  assert.equal(volumes.deleteVolume(db, 'data'), false);
  const rows = volumes.listMounts(db, c);
  assert.equal(rows.length, 2);
  assert.equal(rows[0]!.volumeName, null);
  assert.equal(rows[0]!.source, '/root/volumes/data/_data');
  assert.equal(rows[1]!.type, 'bind');
});

test('mounts are replaced whole, ordered, and go with the container row', (t) => {
  const db = withDb(t);
  volumes.createVolume(db, { name: 'v1' });
  volumes.createVolume(db, { name: 'v2', anonymous: true });
  const c = container(db, 'b');
  volumes.recordMounts(db, c, [volumeMount('v1', '/one')]);
  volumes.recordMounts(db, c, [volumeMount('v2', '/two', true), volumeMount('v1', '/one')]);
  assert.deepEqual(volumes.listMounts(db, c).map((m) => [m.position, m.destination, m.anonymous]), [[0, '/two', true], [1, '/one', false]]);
  containers.deleteContainer(db, c);
  assert.deepEqual(volumes.listMounts(db, c), []);
  assert.deepEqual(volumes.volumeUsers(db, 'v1'), []);
});

test('unused volumes: anonymous only by default, all with all', (t) => {
  const db = withDb(t);
  volumes.createVolume(db, { name: 'named' });
  volumes.createVolume(db, { name: 'a'.repeat(64), anonymous: true });
  volumes.createVolume(db, { name: 'b'.repeat(64), anonymous: true });
  const c = container(db, 'c');
  volumes.recordMounts(db, c, [volumeMount('b'.repeat(64), '/b', true)]);
  assert.deepEqual(volumes.unusedVolumes(db).map((v) => v.name), ['a'.repeat(64)]);
  assert.deepEqual(volumes.unusedVolumes(db, { all: true }).map((v) => v.name), ['a'.repeat(64), 'named']);
  assert.equal(volumes.deleteMounts(db, c), 1);
  assert.equal(volumes.unusedVolumes(db).length, 2);
});

test('a mount row needs its container and a known volume', (t) => {
  const db = withDb(t);
  assert.throws(() => volumes.recordMounts(db, id('z'), [volumeMount('v', '/v')]));
  const c = container(db, 'd');
  assert.throws(() => volumes.recordMounts(db, c, [volumeMount('unknown', '/v')]));
  assert.deepEqual(volumes.listMounts(db, c), []);
});

test('a volume a running container has mounted is kept even when forced', (t) => {
  const db = withDb(t);
  volumes.createVolume(db, { name: 'live' });
  const c = container(db, 'r');
  volumes.recordMounts(db, c, [volumeMount('live', '/data')]);
  containers.setState(db, c, { to: 'running', pid: 4242, startedAt: new Date().toISOString() });
  assert.throws(
    () => volumes.deleteVolume(db, 'live', { force: true }),
    (e: unknown) => isEngineError(e, 'CONFLICT') && /in use by running container\(s\): c-r/.test((e as Error).message),
  );
  assert.ok(volumes.getVolume(db, 'live'));
});
