/**
 * The content store on disk:
 *
 *   content/blobs/sha256/<hex>     verified blobs, read-only files
 *   content/ingest/<hex>/          partial downloads (see ingest.ts)
 *   content/ingest/.tmp-*          small blobs being written by writeBlob
 *
 * A blob file exists under its name only once its bytes hash to that name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { EngineError, digestHex, isDigest, isProcessAlive, readLockPid, sha256Digest, tryAcquireLock, type Digest, type EnginePaths } from '../common/index.js';
import { fsyncDir, ingestDirFor, openIngest, readIngestRef } from './ingest.js';
import type { BlobInfo, BlobProblem, ContentStore, IngestStatus, VerifyReport } from './types.js';

export function createContentStore(paths: Pick<EnginePaths, 'blobs' | 'ingest'>): ContentStore {
  const blobDir = path.join(paths.blobs, 'sha256');
  const ingestRoot = paths.ingest;
  const dirs = { blobDir, ingestRoot };

  const blobPath = (digest: Digest): string => path.join(blobDir, digestHex(checked(digest)));

  const info = (digest: Digest): BlobInfo => {
    try {
      return { digest, size: fs.statSync(blobPath(digest)).size };
    } catch (error) {
      throw notFound(digest, error);
    }
  };

  return {
    has: (digest) => fs.existsSync(blobPath(digest)),
    blobPath,
    info,

    readBlob(digest) {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(blobPath(digest));
      } catch (error) {
        throw notFound(digest, error);
      }
      const got = sha256Digest(bytes);
      if (got !== digest) {
        throw new EngineError('INTEGRITY', `blob ${digest}: digest mismatch (got ${got})`, {
          hint: 'the store is damaged; remove the blob and pull again',
        });
      }
      return bytes;
    },

    openIngest: (digest, expectedSize, options) => openIngest(dirs, checked(digest), expectedSize, options),

    writeBlob(digest, bytes) {
      const got = sha256Digest(bytes);
      if (digest !== undefined && checked(digest) !== got) {
        throw new EngineError('INTEGRITY', `blob ${digest}: digest mismatch (got ${got})`);
      }
      const finalPath = blobPath(got);
      if (fs.existsSync(finalPath)) return got;
      fs.mkdirSync(ingestRoot, { recursive: true });
      fs.mkdirSync(blobDir, { recursive: true });
      const tmp = path.join(ingestRoot, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
      try {
        const fd = fs.openSync(tmp, 'wx', 0o444);
        try {
          let done = 0;
          while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, finalPath);
      } catch (error) {
        fs.rmSync(tmp, { force: true });
        throw error;
      }
      fsyncDir(blobDir);
      return got;
    },

    deleteBlob(digest) {
      try {
        fs.unlinkSync(blobPath(digest));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    },

    listBlobs() {
      const out: BlobInfo[] = [];
      for (const name of readDirOrEmpty(blobDir)) {
        const digest = `sha256:${name}`;
        if (!isDigest(digest)) continue;
        try {
          out.push({ digest, size: fs.statSync(path.join(blobDir, name)).size });
        } catch {
          // removed meanwhile
        }
      }
      return out;
    },

    listIngests() {
      const out: IngestStatus[] = [];
      for (const name of readDirOrEmpty(ingestRoot)) {
        const digest = `sha256:${name}`;
        if (!isDigest(digest)) continue;
        const dir = path.join(ingestRoot, name);
        const ref = readIngestRef(dir);
        let offset = 0;
        try {
          offset = fs.statSync(path.join(dir, 'data')).size;
        } catch {
          // no data yet
        }
        const pid = readLockPid(path.join(dir, 'lock'));
        out.push({
          digest,
          offset,
          expectedSize: ref?.expectedSize ?? undefined,
          locked: pid !== undefined && isProcessAlive(pid),
        });
      }
      return out;
    },

    removeIngest(digest) {
      const dir = ingestDirFor(dirs, checked(digest));
      if (!fs.existsSync(dir)) return false;
      const lock = tryAcquireLock(path.join(dir, 'lock'));
      if (!lock) return false;
      fs.rmSync(path.join(dir, 'data'), { force: true });
      fs.rmSync(path.join(dir, 'ref'), { force: true });
      lock.release();
      fs.rmSync(dir, { recursive: true, force: true });
      return true;
    },

    async verifyAll(options = {}): Promise<VerifyReport> {
      const report: VerifyReport = { ok: [], bad: [] };
      for (const name of readDirOrEmpty(blobDir)) {
        const digest = `sha256:${name}`;
        const problem = isDigest(digest) ? await checkBlob(path.join(blobDir, name), digest) : 'not a sha256 digest';
        if (problem === undefined) {
          report.ok.push(digest as Digest);
          continue;
        }
        const bad: BlobProblem = { name: isDigest(digest) ? digest : name, reason: problem };
        report.bad.push(bad);
        if (options.removeBad) fs.rmSync(path.join(blobDir, name), { force: true, recursive: true });
      }
      return report;
    },
  };
}

async function checkBlob(file: string, digest: Digest): Promise<string | undefined> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    return undefined; // removed meanwhile
  }
  if (!stat.isFile()) return 'not a regular file';
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  const got = `sha256:${hash.digest('hex')}`;
  return got === digest ? undefined : `digest mismatch (got ${got})`;
}

function checked(digest: Digest): Digest {
  if (!isDigest(digest)) {
    throw new EngineError('INVALID_ARGUMENT', `digest ${JSON.stringify(digest)} is not a sha256 digest`);
  }
  return digest;
}

function notFound(digest: Digest, error: unknown): EngineError {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
    return new EngineError('NOT_FOUND', `blob ${digest}: not found in the content store`);
  }
  return new EngineError('INTERNAL', `blob ${digest}: cannot read`, { cause: error });
}

function readDirOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
