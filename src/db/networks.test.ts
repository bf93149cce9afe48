import { createRequire } from 'node:module';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { MIGRATIONS, migrate, networks, schemaVersion, type Database } from './index.js';
import { openTempDatabase } from './temp-database.js';

const withDb = (t: { after(fn: () => void): void }): Database => openTempDatabase(t, 'dctr-networks-').db;

const id = (c: string) => c.repeat(64);
const net = (c: string, name: string, subnet = `10.89.${c.charCodeAt(0) % 200}.0/24`) => ({
  id: id(c),
  name,
  bridge: `dctr-${id(c).slice(0, 8)}`,
  subnet,
  gateway: subnet.replace(/0\/24$/, '1'),
});
const member = (networkId: string, c: string, ports: networks.StoredPort[] = []) => ({
  networkId,
  containerId: id(c),
  containerName: `c-${c}`,
  netns: `/run/netns/${c}`,
  aliases: [],
  ports,
  extraHosts: [],
  hostsFile: null,
});

test('migration 2 adds the network tables', (t) => {
  const db = withDb(t);
  assert.ok(schemaVersion(db) >= 2);
  assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'network_attachments'").get());
});

test('create, find by name, id and prefix, names unique, complete() fills fields inside the transaction', (t) => {
  const db = withDb(t);
  const a = networks.createNetwork(db, net('a', 'front'));
  assert.equal(a.driver, 'bridge');
  assert.equal(a.internal, false);
  assert.deepEqual(a.labels, {});
  assert.equal(networks.findNetwork(db, 'front')?.id, a.id);
  assert.equal(networks.findNetwork(db, a.id)?.name, 'front');
  assert.equal(networks.findNetwork(db, 'aaaa')?.name, 'front');
  assert.equal(networks.findNetwork(db, 'nope'), undefined);
  assert.throws(() => networks.getNetwork(db, 'nope'), (error: unknown) => isEngineError(error, 'NOT_FOUND') && error.message === 'network nope not found');
  assert.throws(() => networks.createNetwork(db, { ...net('b', 'front') }), (error: unknown) => isEngineError(error, 'ALREADY_EXISTS'));
  let seen: string[] = [];
  const b = networks.createNetwork(db, { ...net('b', 'back'), subnet: '', gateway: '' }, (existing) => {
    seen = existing.map((row) => row.name);
    return { subnet: '10.90.0.0/24', gateway: '10.90.0.1' };
  });
  assert.deepEqual(seen, ['front']);
  assert.equal(b.subnet, '10.90.0.0/24');
  assert.throws(() => networks.createNetwork(db, net('c', 'third'), () => { throw new Error('overlap'); }), /overlap/);
  assert.equal(networks.findNetwork(db, 'third'), undefined);
  networks.createNetwork(db, { ...net('a'.replace('a', 'd'), 'fourth') });
  networks.createNetwork(db, { ...net('e', 'fifth'), id: `${'a'.repeat(8)}${'e'.repeat(56)}`, bridge: 'dctr-x' });
  assert.throws(() => networks.findNetwork(db, 'aaaa'), (error: unknown) => isEngineError(error, 'CONFLICT'));
});

test('attachments: ethN per container, port check inside the transaction, delete refused while attached', (t) => {
  const db = withDb(t);
  const a = networks.createNetwork(db, net('a', 'front'));
  const b = networks.createNetwork(db, net('b', 'back'));
  const first = networks.addAttachment(db, member(a.id, '1', [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]));
  assert.equal(first.ifname, 'eth0');
  assert.equal(first.result, null);
  const second = networks.addAttachment(db, member(b.id, '1'));
  assert.equal(second.ifname, 'eth1');
  assert.throws(() => networks.addAttachment(db, member(a.id, '1')), (error: unknown) => isEngineError(error, 'ALREADY_EXISTS'));
  assert.throws(
    () => networks.addAttachment(db, member(a.id, '2'), (existing) => {
      if (existing.some((row) => row.ports.some((port) => port.hostPort === 8080))) throw new Error('taken');
    }),
    /taken/,
  );
  assert.equal(networks.listAttachments(db, { networkId: a.id }).length, 1);

  networks.setAttachmentResult(db, a.id, id('1'), { result: '{"cniVersion":"1.0.0"}', ip: '10.89.0.2', mac: 'aa:bb:cc:dd:ee:ff' });
  const stored = networks.getAttachment(db, a.id, id('1'))!;
  assert.equal(stored.ip, '10.89.0.2');
  assert.deepEqual(stored.ports, [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);

  assert.throws(() => networks.deleteNetwork(db, a.id), (error: unknown) => isEngineError(error, 'CONFLICT') && /in use by 1 container\(s\): c-1/.test(error.message));
  assert.equal(networks.deleteAttachment(db, a.id, id('1')), true);
  assert.equal(networks.deleteAttachment(db, a.id, id('1')), false);
  assert.equal(networks.deleteNetwork(db, a.id), true);
  assert.equal(networks.deleteNetwork(db, a.id), false);
  assert.deepEqual(networks.listAttachments(db, { containerId: id('1') }).map((row) => row.ifname), ['eth1']);
  assert.throws(() => networks.addAttachment(db, member(a.id, '3')), (error: unknown) => isEngineError(error, 'NOT_FOUND'));
});

test('migration 4: an attachment keeps the CNI list its ADD ran, a network whether its rules are made; rows made before have neither', (t) => {
  const { db } = openTempDatabase(t, 'dctr-networks-');
  const a = networks.createNetwork(db, net('a', 'front'));
  const list = '{"cniVersion":"1.0.0","name":"front","plugins":[{"type":"bridge"}]}';
  assert.equal(networks.addAttachment(db, { ...member(a.id, '1'), conflist: list }).conflist, list);
  assert.equal(networks.addAttachment(db, member(a.id, '2')).conflist, null);
  assert.equal(networks.getAttachment(db, a.id, id('1'))!.conflist, list);

  // A database left at version 3 with a network and an attachment in it: the columns come, with "not made/not kept".
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
  const old = new Sqlite(':memory:');
  t.after(() => old.close());
  migrate(old, MIGRATIONS.filter((m) => m.version <= 3));
  old.prepare("INSERT INTO networks(id, name, bridge, subnet, gateway, created_at) VALUES (?, 'back', 'dctr-bbbbbbbb', '10.89.9.0/24', '10.89.9.1', '2024-01-01')").run(id('b'));
  old.prepare("INSERT INTO network_attachments(network_id, container_id, container_name, ifname, netns, created_at) VALUES (?, ?, 'c-old', 'eth0', '/x', '2024-01-01')").run(id('b'), id('9'));
  assert.equal(migrate(old, MIGRATIONS), MIGRATIONS.filter((m) => m.version > 3).length);
  assert.equal(networks.getNetwork(old, 'back').hostRules, false);
  const row = networks.getAttachment(old, id('b'), id('9'))!;
  assert.equal(row.containerName, 'c-old');
  assert.equal(row.conflist, null);
  networks.setNetworkHostRules(old, id('b'), true);
  assert.equal(networks.getNetwork(old, 'back').hostRules, true);
});
