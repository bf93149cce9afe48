import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isEngineError, resolvePaths, sha256Digest, type Digest } from '../common/index.js';
import { createContentStore } from './index.js';

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function tmpStore(t: { after(fn: () => void): void }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dc-content-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const paths = resolvePaths({ root, runRoot: path.join(root, 'run') });
  return { root, paths, store: createContentStore(paths) };
}

test('writeBlob stores by digest and readBlob verifies', (t) => {
  const { store, paths } = tmpStore(t);
  const bytes = Buffer.from('{"schemaVersion":2}');
  const digest = store.writeBlob(undefined, bytes);
  assert.equal(digest, sha256Digest(bytes));
  assert.ok(store.has(digest));
  assert.equal(store.blobPath(digest), path.join(paths.blobs, 'sha256', digest.slice(7)));
  assert.deepEqual(store.readBlob(digest), bytes);
  assert.deepEqual(store.info(digest), { digest, size: bytes.length });
  assert.deepEqual(store.listBlobs(), [{ digest, size: bytes.length }]);
  // Writing it again is a no-op.
  assert.equal(store.writeBlob(digest, bytes), digest);
  assert.ok(store.deleteBlob(digest));
  assert.equal(store.deleteBlob(digest), false);
  assert.throws(() => store.readBlob(digest), (e) => isEngineError(e, 'NOT_FOUND'));
});

test('writeBlob refuses bytes that do not match the digest', (t) => {
  const { store, paths } = tmpStore(t);
  const claimed = sha256Digest('other');
  assert.throws(
    () => store.writeBlob(claimed, Buffer.from('bytes')),
    (e) => isEngineError(e, 'INTEGRITY') && e.message === `blob ${claimed}: digest mismatch (got ${sha256Digest('bytes')})`,
  );
  assert.equal(store.has(claimed), false);
  assert.deepEqual(fs.existsSync(path.join(paths.blobs, 'sha256')) ? fs.readdirSync(path.join(paths.blobs, 'sha256')) : [], []);
});

test('digests that are not sha256 hex are refused (no path tricks)', (t) => {
  const { store } = tmpStore(t);
  assert.throws(() => store.blobPath('sha256:../../etc/passwd' as Digest), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
});

test('an interrupted ingest resumes at its offset and commits the whole blob', async (t) => {
  const { store, paths } = tmpStore(t);
  const bytes = randomBytes(300_000);
  const digest = sha256Digest(bytes);

  const first = await store.openIngest(digest, bytes.length);
  assert.equal(first.offset, 0);
  assert.equal(first.alreadyExists, false);
  first.write(bytes.subarray(0, 100_000));
  first.write(bytes.subarray(100_000, 123_456));
  assert.equal(first.offset, 123_456);
  await first.abort();
  assert.equal(store.has(digest), false);
  assert.deepEqual(store.listIngests(), [{ digest, offset: 123_456, expectedSize: bytes.length, locked: false }]);

  // A new store object (as a new process would have) sees the partial.
  const again = await createContentStore(paths).openIngest(digest, bytes.length);
  assert.equal(again.offset, 123_456);
  // What is on disk reads back as it was written (a resumed pull unpacks it first).
  assert.deepEqual(await readAll(again.readWritten()), bytes.subarray(0, 123_456));
  again.write(bytes.subarray(again.offset));
  const info = await again.commit();
  assert.deepEqual(info, { digest, size: bytes.length });
  assert.deepEqual(fs.readFileSync(store.blobPath(digest)), bytes);
  assert.deepEqual(store.listIngests(), []);
  assert.deepEqual(fs.readdirSync(paths.ingest), []);
  const report = await store.verifyAll();
  assert.deepEqual(report, { ok: [digest], bad: [] });
});

test('a resumed ingest whose prefix is wrong fails the digest and leaves nothing', async (t) => {
  const { store, paths } = tmpStore(t);
  const bytes = randomBytes(50_000);
  const digest = sha256Digest(bytes);
  const first = await store.openIngest(digest, bytes.length);
  first.write(Buffer.alloc(20_000, 7)); // garbage prefix
  await first.abort();
  const again = await store.openIngest(digest, bytes.length);
  assert.equal(again.offset, 20_000);
  again.write(bytes.subarray(20_000));
  await assert.rejects(again.commit(), (e) => isEngineError(e, 'INTEGRITY') && /digest mismatch \(got sha256:[0-9a-f]{64}\)$/.test(e.message));
  assert.equal(store.has(digest), false);
  assert.deepEqual(store.listBlobs(), []);
  assert.deepEqual(store.listIngests(), []);
  // Next attempt starts from zero.
  const third = await store.openIngest(digest, bytes.length);
  assert.equal(third.offset, 0);
  third.write(bytes);
  await third.commit();
  assert.ok(store.has(digest));
  assert.ok(fs.existsSync(paths.ingest));
});

test('reset starts over when the server ignored the range', async (t) => {
  const { store } = tmpStore(t);
  const bytes = randomBytes(10_000);
  const digest = sha256Digest(bytes);
  const first = await store.openIngest(digest, bytes.length);
  first.write(bytes.subarray(0, 4000));
  await first.abort();
  const again = await store.openIngest(digest, bytes.length);
  assert.equal(again.offset, 4000);
  again.reset();
  assert.equal(again.offset, 0);
  again.write(bytes);
  await again.commit();
  assert.deepEqual(store.readBlob(digest), bytes);
});

test('size checks: too many bytes discard the partial, too few keep it', async (t) => {
  const { store } = tmpStore(t);
  const bytes = randomBytes(1000);
  const digest = sha256Digest(bytes);
  const over = await store.openIngest(digest, 999);
  assert.throws(() => over.write(bytes), (e) => isEngineError(e, 'INTEGRITY') && /size mismatch/.test(e.message));
  assert.deepEqual(store.listIngests(), []);

  const short = await store.openIngest(digest, 1000);
  short.write(bytes.subarray(0, 600));
  await assert.rejects(short.commit(), (e) => isEngineError(e, 'INTEGRITY') && /got 600 bytes, expected 1000/.test(e.message));
  assert.equal(store.has(digest), false);
  const resumed = await store.openIngest(digest, 1000);
  assert.equal(resumed.offset, 600);
  resumed.write(bytes.subarray(600));
  await resumed.commit();
  assert.ok(store.has(digest));
});

test('a different expected size for the same digest discards the old partial', async (t) => {
  const { store } = tmpStore(t);
  const digest = sha256Digest('x');
  const first = await store.openIngest(digest, 100);
  first.write(Buffer.alloc(10));
  await first.abort();
  const second = await store.openIngest(digest, 200);
  assert.equal(second.offset, 0);
  await second.abort();
});

test('the ingest lock: a second writer waits, then finds the blob stored', async (t) => {
  const { store } = tmpStore(t);
  const bytes = Buffer.from('hello');
  const digest = sha256Digest(bytes);
  const first = await store.openIngest(digest, bytes.length);
  await assert.rejects(store.openIngest(digest, bytes.length, { lockTimeoutMs: 150 }), (e) => isEngineError(e, 'CONFLICT'));
  const waiting = store.openIngest(digest, bytes.length, { lockTimeoutMs: 5000 });
  first.write(bytes);
  await first.commit();
  const second = await waiting;
  assert.equal(second.alreadyExists, true);
  assert.equal(second.offset, bytes.length);
  assert.deepEqual(await second.commit(), { digest, size: bytes.length });
});

test('a lock left by a dead process is taken over and its partial resumed', async (t) => {
  const { store, paths } = tmpStore(t);
  const bytes = randomBytes(4096);
  const digest = sha256Digest(bytes);
  const first = await store.openIngest(digest, bytes.length);
  first.write(bytes.subarray(0, 1000));
  // Simulate kill -9: the lock file stays, naming a pid that is gone.
  const deadPid = unusedPid();
  const lockPath = path.join(paths.ingest, digest.slice(7), 'lock');
  fs.writeFileSync(lockPath, `${deadPid}\n`);
  const second = await store.openIngest(digest, bytes.length, { lockTimeoutMs: 1000 });
  assert.equal(second.offset, 1000);
  second.write(bytes.subarray(1000));
  await second.commit();
  await first.abort();
  assert.deepEqual(store.readBlob(digest), bytes);
});

function unusedPid(): number {
  const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (let pid = max - 1; pid > 1; pid--) if (!fs.existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no free pid');
}

test('verifyAll reports a damaged blob and can remove it', async (t) => {
  const { store } = tmpStore(t);
  const good = store.writeBlob(undefined, Buffer.from('good'));
  const bad = store.writeBlob(undefined, Buffer.from('bad'));
  fs.chmodSync(store.blobPath(bad), 0o644);
  fs.writeFileSync(store.blobPath(bad), 'tampered');
  const report = await store.verifyAll();
  assert.deepEqual(report.ok, [good]);
  assert.equal(report.bad.length, 1);
  assert.equal(report.bad[0]!.name, bad);
  assert.match(report.bad[0]!.reason, /digest mismatch/);
  assert.throws(() => store.readBlob(bad), (e) => isEngineError(e, 'INTEGRITY'));
  await store.verifyAll({ removeBad: true });
  assert.equal(store.has(bad), false);
  assert.ok(store.has(good));
});
