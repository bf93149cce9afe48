import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isEngineError } from '../common/index.js';
import { HOSTS_BEGIN, HOSTS_END, hostsEntriesFor, parseAddHost, renderHostsFile, rewriteHostsFile } from './hosts.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

test('entries: name, aliases, short id; sorted by name', () => {
  assert.deepEqual(
    hostsEntriesFor([
      { containerId: B, name: 'web', ip: '10.89.0.3', aliases: ['www', 'web'] },
      { containerId: A, name: 'db', ip: '10.89.0.2' },
    ]),
    [`10.89.0.2\tdb ${A.slice(0, 12)}`, `10.89.0.3\tweb www ${B.slice(0, 12)}`],
  );
});

test('the engine block is replaced, removed when empty, and the rest kept', () => {
  const base = '127.0.0.1\tlocalhost\n127.0.1.1\tme\n';
  const once = renderHostsFile(base, ['10.0.0.2\tdb']);
  assert.equal(once, `${base}${HOSTS_BEGIN}\n10.0.0.2\tdb\n${HOSTS_END}\n`);
  const twice = renderHostsFile(once, ['10.0.0.3\tweb', '10.0.0.3\tweb']);
  assert.equal(twice, `${base}${HOSTS_BEGIN}\n10.0.0.3\tweb\n${HOSTS_END}\n`);
  assert.equal(renderHostsFile(twice, []), base);
});

test('the file is rewritten in place (the bind mount keeps its inode); a missing file is reported', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-hosts-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hosts');
  fs.writeFileSync(file, '127.0.0.1\tlocalhost\n');
  const inode = fs.statSync(file).ino;
  assert.equal(rewriteHostsFile(file, ['10.0.0.2\tdb']), true);
  assert.equal(fs.statSync(file).ino, inode);
  assert.match(fs.readFileSync(file, 'utf8'), /10\.0\.0\.2\tdb/);
  assert.equal(rewriteHostsFile(path.join(dir, 'gone'), ['x']), false);
});

test('--add-host', () => {
  assert.deepEqual(parseAddHost('db:10.0.0.5'), { host: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseAddHost('db=10.0.0.5'), { host: 'db', ip: '10.0.0.5' });
  assert.throws(() => parseAddHost('db'), (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT'));
  assert.throws(() => parseAddHost('db:nope'), /not an IPv4 address/);
});
