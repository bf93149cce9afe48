import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../common/index.js';
import { containers, openDatabase } from './index.js';
import { openTempDatabase } from './temp-database.js';

const withDb = (t: { after(fn: () => void): void }) => openTempDatabase(t, 'dctr-containers-');

const id = (c: string) => c.repeat(64);
const fresh = (c: string, name: string): containers.NewContainer => ({
  id: id(c),
  name,
  imageId: null,
  imageRef: 'busybox',
  config: JSON.stringify({ args: ['true'] }),
});

function code(error: unknown): string | undefined {
  return error instanceof EngineError ? error.code : undefined;
}

test('a new container is created, and its state moves through the lifecycle', (t) => {
  const { db } = withDb(t);
  const made = containers.createContainer(db, fresh('a', 'one'));
  assert.equal(made.state, 'created');
  assert.equal(made.pid, null);
  assert.equal(made.oomKilled, false);
  assert.deepEqual(JSON.parse(made.config), { args: ['true'] });

  const started = new Date().toISOString();
  const running = containers.setState(db, id('a'), { to: 'running', from: ['created'], pid: 4242, startedAt: started });
  assert.equal(running.state, 'running');
  assert.equal(running.pid, 4242);
  assert.equal(running.startedAt, started);

  const exited = containers.setState(db, id('a'), { to: 'exited', from: ['running'], exitCode: 137, oomKilled: true, pid: null, finishedAt: started });
  assert.equal(exited.state, 'exited');
  assert.equal(exited.exitCode, 137);
  assert.equal(exited.oomKilled, true);
  assert.equal(exited.pid, null);
  assert.deepEqual(containers.getContainerByName(db, 'one'), exited);
  assert.deepEqual(containers.listContainers(db).map((c) => c.id), [id('a')]);

  assert.equal(containers.deleteContainer(db, id('a')), true);
  assert.equal(containers.getContainer(db, id('a')), undefined);
  assert.equal(containers.deleteContainer(db, id('a')), false);
});

test('a taken name is a CONFLICT in Docker words, and the first container keeps it', (t) => {
  const { db } = withDb(t);
  containers.createContainer(db, fresh('a', 'web'));
  assert.throws(
    () => containers.createContainer(db, fresh('b', 'web')),
    (error: unknown) =>
      code(error) === 'CONFLICT' &&
      (error as Error).message.startsWith(`Conflict. The container name "/web" is already in use by container "${id('a')}"`),
  );
  assert.equal(containers.getContainer(db, id('b')), undefined);
  assert.throws(() => containers.createContainer(db, fresh('a', 'other')), (error: unknown) => code(error) === 'CONFLICT');
});

test('transitions check the current state: a guard mismatch or an impossible move is a CONFLICT and changes nothing', (t) => {
  const { db } = withDb(t);
  containers.createContainer(db, fresh('a', 'x'));
  // created -> paused is not a lifecycle move.
  assert.throws(() => containers.setState(db, id('a'), { to: 'paused' }), (error: unknown) => code(error) === 'CONFLICT');
  // The caller expected running, the row says created.
  assert.throws(() => containers.setState(db, id('a'), { to: 'exited', from: ['running'], exitCode: 0 }), (error: unknown) => code(error) === 'CONFLICT');
  assert.equal(containers.getContainer(db, id('a'))?.state, 'created');
  assert.equal(containers.getContainer(db, id('a'))?.exitCode, null);
  // A failure before exec: created -> exited directly.
  assert.equal(containers.setState(db, id('a'), { to: 'exited', exitCode: 127, error: 'exec failed' }).error, 'exec failed');
  assert.throws(() => containers.setState(db, id('f'.repeat(1)), { to: 'running' }), (error: unknown) => code(error) === 'NOT_FOUND');
});

test('a running container cannot be deleted unless the caller allows it', (t) => {
  const { db } = withDb(t);
  containers.createContainer(db, fresh('a', 'x'));
  containers.setState(db, id('a'), { to: 'running', pid: 1 });
  assert.throws(() => containers.deleteContainer(db, id('a')), (error: unknown) => code(error) === 'CONFLICT');
  assert.equal(containers.deleteContainer(db, id('a'), ['running']), true);
});

test('two connections racing to start the same container: exactly one wins', (t) => {
  const { db, file } = withDb(t);
  const other = openDatabase(file);
  t.after(() => other.close());
  containers.createContainer(db, fresh('a', 'race'));
  const results = [db, other].map((conn, i) => {
    try {
      containers.setState(conn, id('a'), { to: 'running', from: ['created'], pid: 100 + i });
      return 'won';
    } catch (error) {
      return code(error);
    }
  });
  assert.deepEqual(results, ['won', 'CONFLICT']);
  assert.equal(containers.getContainer(other, id('a'))?.pid, 100);
});

test('findContainer: full id, name, unique prefix; an ambiguous prefix is an error', (t) => {
  const { db } = withDb(t);
  containers.createContainer(db, fresh('a', 'one'));
  containers.createContainer(db, { ...fresh('b', 'two'), id: `ab${'0'.repeat(62)}` });
  assert.equal(containers.findContainer(db, id('a'))?.name, 'one');
  assert.equal(containers.findContainer(db, 'two')?.id, `ab${'0'.repeat(62)}`);
  assert.equal(containers.findContainer(db, '/one')?.id, id('a'));
  assert.equal(containers.findContainer(db, 'aaa')?.name, 'one');
  assert.equal(containers.findContainer(db, 'ab0')?.name, 'two');
  assert.equal(containers.findContainer(db, 'nothing'), undefined);
  assert.equal(containers.findContainer(db, 'c'), undefined);
  assert.throws(() => containers.findContainer(db, 'a'), (error: unknown) => code(error) === 'INVALID_ARGUMENT');
});

test('renameContainer: moves the name; a taken name is a CONFLICT', (t) => {
  const { db } = withDb(t);
  containers.createContainer(db, fresh('a', 'one'));
  containers.createContainer(db, fresh('b', 'two'));
  assert.equal(containers.renameContainer(db, id('a'), 'uno').name, 'uno');
  assert.equal(containers.getContainerByName(db, 'one'), undefined);
  assert.throws(() => containers.renameContainer(db, id('a'), 'two'), (error: unknown) => code(error) === 'CONFLICT');
  assert.throws(() => containers.renameContainer(db, id('c'), 'three'), (error: unknown) => code(error) === 'NOT_FOUND');
});
