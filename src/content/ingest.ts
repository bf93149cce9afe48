/**
 * A resumable blob write. Layout of one ingest, under content/ingest/<hex>/:
 *
 *   lock   pid of the writer (O_EXCL; stale when that process is dead)
 *   ref    {"digest","expectedSize"} of the download the data belongs to
 *   data   the bytes received so far
 *
 * Opening an ingest whose data is already there resumes it: `offset` is the
 * size of data, and the sha256 of that prefix is recomputed so that hashing
 * can go on incrementally with each write.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createHash, type Hash } from 'node:crypto';
import { EngineError, acquireLock, digestHex, type Digest, type FileLock } from '../common/index.js';
import type { BlobInfo, Ingest, OpenIngestOptions } from './types.js';

interface IngestRef {
  digest: Digest;
  expectedSize: number | null;
}

export interface IngestDirs {
  ingestRoot: string;
  blobDir: string;
}

const READ_CHUNK = 1 << 20;

export function ingestDirFor(dirs: IngestDirs, digest: Digest): string {
  return path.join(dirs.ingestRoot, digestHex(digest));
}

export async function openIngest(
  dirs: IngestDirs,
  digest: Digest,
  expectedSize: number | undefined,
  options: OpenIngestOptions = {},
): Promise<Ingest> {
  if (expectedSize !== undefined && (!Number.isSafeInteger(expectedSize) || expectedSize < 0)) {
    throw new EngineError('INVALID_ARGUMENT', `ingest ${digest}: size ${expectedSize} is not valid`);
  }
  const hex = digestHex(digest);
  const dir = ingestDirFor(dirs, digest);
  const finalPath = path.join(dirs.blobDir, hex);
  fs.mkdirSync(dir, { recursive: true });
  const lock = await acquireLock(path.join(dir, 'lock'), {
    what: `ingest ${digest}`,
    hint: 'another pull of the same content is running; wait for it to finish',
    timeoutMs: options.lockTimeoutMs,
    signal: options.signal,
  });
  try {
    if (fs.existsSync(finalPath)) {
      const size = fs.statSync(finalPath).size;
      // Someone finished it; what is left in ingest/ is of no use.
      removeIngestFiles(dir, lock);
      return existingIngest(digest, expectedSize, size, finalPath);
    }
    return resumeOrStart(dir, finalPath, digest, expectedSize, lock);
  } catch (error) {
    lock.release();
    throw error;
  }
}

function existingIngest(digest: Digest, expectedSize: number | undefined, size: number, finalPath: string): Ingest {
  return {
    digest,
    expectedSize,
    offset: size,
    alreadyExists: true,
    write() {
      throw new EngineError('FAILED_PRECONDITION', `ingest ${digest}: blob already stored`);
    },
    readWritten: () => fs.createReadStream(finalPath),
    reset() {},
    async commit() {
      return { digest, size };
    },
    async abort() {},
  };
}

function resumeOrStart(
  dir: string,
  finalPath: string,
  digest: Digest,
  expectedSize: number | undefined,
  lock: FileLock,
): Ingest {
  const dataPath = path.join(dir, 'data');
  const refPath = path.join(dir, 'ref');
  const ref = readRef(refPath);
  const sameDownload = ref !== undefined && ref.digest === digest && (ref.expectedSize ?? undefined) === expectedSize;
  if (!sameDownload) {
    fs.rmSync(dataPath, { force: true });
    writeRef(refPath, { digest, expectedSize: expectedSize ?? null });
  }
  const fd = fs.openSync(dataPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  let hash = createHash('sha256');
  let offset = 0;
  let closed = false;
  try {
    const size = fs.fstatSync(fd).size;
    if (expectedSize !== undefined && size > expectedSize) {
      fs.ftruncateSync(fd, 0);
    } else {
      offset = hashPrefix(fd, size, hash);
    }
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }

  const close = (): void => {
    if (closed) return;
    closed = true;
    fs.closeSync(fd);
  };
  const discard = (): void => {
    close();
    removeIngestFiles(dir, lock);
  };
  const ensureOpen = (): void => {
    if (closed) throw new EngineError('FAILED_PRECONDITION', `ingest ${digest}: already committed or aborted`);
  };

  return {
    digest,
    expectedSize,
    alreadyExists: false,
    get offset() {
      return offset;
    },
    write(chunk) {
      ensureOpen();
      if (expectedSize !== undefined && offset + chunk.length > expectedSize) {
        discard();
        throw new EngineError(
          'INTEGRITY',
          `blob ${digest}: size mismatch (more than the expected ${expectedSize} bytes)`,
        );
      }
      let done = 0;
      while (done < chunk.length) {
        done += fs.writeSync(fd, chunk, done, chunk.length - done, offset + done);
      }
      hash.update(chunk);
      offset += chunk.length;
    },
    readWritten() {
      ensureOpen();
      // Positional writes go on beside this reader; it stops at today's offset.
      return offset === 0 ? Readable.from([]) : fs.createReadStream(dataPath, { start: 0, end: offset - 1 });
    },
    reset() {
      ensureOpen();
      fs.ftruncateSync(fd, 0);
      hash = createHash('sha256');
      offset = 0;
    },
    async commit(): Promise<BlobInfo> {
      ensureOpen();
      if (expectedSize !== undefined && offset !== expectedSize) {
        // A short blob is a valid prefix as far as we know: keep it to resume.
        close();
        lock.release();
        throw new EngineError(
          'INTEGRITY',
          `blob ${digest}: size mismatch (got ${offset} bytes, expected ${expectedSize})`,
        );
      }
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== digest) {
        discard();
        throw new EngineError('INTEGRITY', `blob ${digest}: digest mismatch (got ${got})`);
      }
      fs.fsyncSync(fd);
      close();
      fs.chmodSync(dataPath, 0o444);
      fs.mkdirSync(path.dirname(finalPath), { recursive: true });
      fs.renameSync(dataPath, finalPath);
      fsyncDir(path.dirname(finalPath));
      removeIngestFiles(dir, lock);
      return { digest, size: offset };
    },
    async abort() {
      if (closed) return;
      close();
      lock.release();
    },
  };
}

/** Feeds the first `size` bytes of fd into hash; returns how many were read. */
function hashPrefix(fd: number, size: number, hash: Hash): number {
  const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
  let position = 0;
  while (position < size) {
    const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position);
    if (n === 0) break;
    hash.update(buffer.subarray(0, n));
    position += n;
  }
  return position;
}

function readRef(refPath: string): IngestRef | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(refPath, 'utf8')) as IngestRef;
    return typeof value === 'object' && value !== null && typeof value.digest === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export function readIngestRef(dir: string): IngestRef | undefined {
  return readRef(path.join(dir, 'ref'));
}

function writeRef(refPath: string, ref: IngestRef): void {
  const tmp = `${refPath}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(ref));
  fs.renameSync(tmp, refPath);
}

/** Removes data and ref, then the lock, then the directory (when empty). */
function removeIngestFiles(dir: string, lock: FileLock): void {
  fs.rmSync(path.join(dir, 'data'), { force: true });
  fs.rmSync(path.join(dir, 'ref'), { force: true });
  lock.release();
  try {
    fs.rmdirSync(dir);
  } catch {
    // Another writer may already be waiting with its own lock file in there.
  }
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
