import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openDatabase, migrate, schemaVersion, MIGRATIONS } from './index.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-db-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a new database is migrated to the latest version with WAL and foreign keys on', (t) => {
  const db = openDatabase(path.join(tempDir(t), 'db.sqlite'));
  try {
    assert.equal(schemaVersion(db), MIGRATIONS.at(-1)!.version);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.ok((db.pragma('busy_timeout', { simple: true }) as number) >= 1000);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table','view') ORDER BY name").pluck().all();
    assert.deepEqual(tables, ['container_mounts', 'containers', 'image_layers', 'images', 'layer_refs', 'layers', 'network_attachments', 'networks', 'tags', 'volumes']);
  } finally {
    db.close();
  }
});

test('opening again runs no migration twice, and foreign keys are enforced', (t) => {
  const file = path.join(tempDir(t), 'db.sqlite');
  openDatabase(file).close();
  const db = openDatabase(file);
  try {
    assert.equal(migrate(db, MIGRATIONS), 0);
    assert.throws(() => db.prepare("INSERT INTO tags(name, image_id) VALUES ('x:latest', 'sha256:missing')").run(), /FOREIGN KEY/);
  } finally {
    db.close();
  }
});

test('migrations apply in order and a gap is refused', (t) => {
  const db = openDatabase(path.join(tempDir(t), 'db.sqlite'));
  try {
    const current = schemaVersion(db);
    const next = { version: current + 1, name: 'add a test table', sql: 'CREATE TABLE probe (x INTEGER)' };
    assert.equal(migrate(db, [...MIGRATIONS, next]), 1);
    assert.equal(schemaVersion(db), current + 1);
    const gap = { version: current + 3, name: 'skips one', sql: 'CREATE TABLE never (x INTEGER)' };
    assert.throws(() => migrate(db, [...MIGRATIONS, next, gap]), /cannot apply/);
    assert.equal(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'never'").pluck().get(), 0);
  } finally {
    db.close();
  }
});

test('a database newer than this engine is refused with a hint', (t) => {
  const file = path.join(tempDir(t), 'db.sqlite');
  const db = openDatabase(file);
  db.pragma(`user_version = ${MIGRATIONS.at(-1)!.version + 5}`);
  db.close();
  assert.throws(() => openDatabase(file), (error: Error & { code?: string; hint?: string }) => {
    assert.equal(error.code, 'FAILED_PRECONDITION');
    assert.match(error.hint ?? '', /upgrade/);
    return true;
  });
});

test('20 processes writing at once all succeed', async (t) => {
  const file = path.join(tempDir(t), 'db.sqlite');
  const openModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'index.js');
  // Each writer opens the database itself (racing on creation and migration too)
  // and inserts an image and a tag in one immediate transaction.
  const script = `
    const { openDatabase } = await import(${JSON.stringify(openModule)});
    const db = openDatabase(process.argv[1]);
    const n = process.argv[2];
    const id = 'sha256:' + n.padStart(64, '0');
    db.transaction(() => {
      db.prepare("INSERT INTO images(id, config, added_at) VALUES (?, '{}', datetime('now'))").run(id);
      db.prepare('INSERT INTO tags(name, image_id) VALUES (?, ?)').run('writer' + n + ':latest', id);
    }).immediate();
    db.close();
  `;
  const runs = Array.from({ length: 20 }, (_, i) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, file, String(i)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stderr }));
    }),
  );
  const results = await Promise.all(runs);
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  const db = openDatabase(file);
  try {
    assert.equal(db.prepare('SELECT COUNT(*) FROM images').pluck().get(), 20);
    assert.equal(db.prepare('SELECT COUNT(*) FROM tags').pluck().get(), 20);
    assert.equal(schemaVersion(db), MIGRATIONS.at(-1)!.version);
  } finally {
    db.close();
  }
});

test("the busy timeout asked for is the connection's, and an up-to-date database opens while another connection writes", (t) => {
  const file = path.join(tempDir(t), 'db.sqlite');
  openDatabase(file).close();
  const writer = openDatabase(file);
  try {
    // The write lock held: an open that tried to write (a migration, a
    // journal mode change) would wait for it, and with no timeout fail.
    writer.prepare('BEGIN IMMEDIATE').run();
    writer.prepare("INSERT INTO images(id, config, added_at) VALUES ('sha256:held', '{}', datetime('now'))").run();
    const db = openDatabase(file, { busyTimeoutMs: 0 });
    try {
      assert.equal(db.pragma('busy_timeout', { simple: true }), 0);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(db.pragma('synchronous', { simple: true }), 1);
      assert.equal(db.prepare('SELECT COUNT(*) FROM images').pluck().get(), 0);
    } finally {
      db.close();
    }
    writer.prepare('COMMIT').run();
  } finally {
    writer.close();
  }
  const db = openDatabase(file, { busyTimeoutMs: 1234 });
  try {
    assert.equal(db.pragma('busy_timeout', { simple: true }), 1234);
    assert.equal(db.prepare('SELECT COUNT(*) FROM images').pluck().get(), 1);
  } finally {
    db.close();
  }
});
