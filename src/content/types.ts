/**
 * The content store's role interfaces. Blobs (compressed layers, configs,
 * manifests) are kept by digest; a download goes through an Ingest: bytes are
 * appended to `ingest/<hex>/data`, and only `commit()` (size + sha256
 * verified, fsync, rename) makes them visible under `blobs/sha256/<hex>`.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../common/index.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface OpenIngestOptions {
  /** How long to wait for another process (or task) ingesting the same digest; default 10 minutes. */
  lockTimeoutMs?: number;
  /** Gives up waiting for the lock when aborted. */
  signal?: AbortSignal;
}

/**
 * One resumable write of one blob. Holds the ingest lock from open until
 * commit() or abort(); exactly one of them must be called.
 */
export interface Ingest {
  readonly digest: Digest;
  /** Size the blob must have, when known. */
  readonly expectedSize: number | undefined;
  /** Bytes already written: from an earlier interrupted attempt, then growing with write(). */
  readonly offset: number;
  /**
   * The blob was already in the store when the ingest was opened (another
   * process may have finished it while this one waited for the lock).
   * Nothing needs to be written and commit() is a no-op.
   */
  readonly alreadyExists: boolean;
  /** Appends bytes (synchronously). Throws INTEGRITY when the blob grows beyond expectedSize. */
  write(chunk: Uint8Array): void;
  /**
   * The first `offset` bytes read back from disk (the whole blob when it was
   * already stored), e.g. to unpack a resumed download from its start.
   */
  readWritten(): Readable;
  /** Starts over from zero bytes, e.g. when the server ignored a Range request. */
  reset(): void;
  /**
   * Verifies size and sha256 of everything written, fsyncs, renames into
   * blobs/ and fsyncs the directory. On a digest mismatch the partial data is
   * deleted and an INTEGRITY error thrown; on a short blob the partial is kept
   * (it can be resumed) and an INTEGRITY error thrown.
   */
  commit(): Promise<BlobInfo>;
  /** Stops without committing; the partial data is kept for a later resume. */
  abort(): Promise<void>;
}

export interface IngestStatus {
  digest: Digest;
  /** Bytes in the partial file. */
  offset: number;
  expectedSize: number | undefined;
  /** A live process holds the lock. */
  locked: boolean;
}

export interface BlobProblem {
  /** The digest, or the file name when it is not a valid digest. */
  name: string;
  reason: string;
}

export interface VerifyReport {
  ok: Digest[];
  bad: BlobProblem[];
}

export interface ContentStore {
  has(digest: Digest): boolean;
  /** Where the blob lives (whether or not it exists yet). */
  blobPath(digest: Digest): string;
  /** Size of a stored blob; NOT_FOUND when absent. */
  info(digest: Digest): BlobInfo;
  /** Reads a small blob (manifest, config) whole and checks its digest; NOT_FOUND when absent. */
  readBlob(digest: Digest): Buffer;
  /** Opens (or resumes) the ingest of one blob, waiting for its lock if another writer holds it. */
  openIngest(digest: Digest, expectedSize?: number, options?: OpenIngestOptions): Promise<Ingest>;
  /**
   * Stores a small blob in one go. With a digest, the bytes must match it
   * (INTEGRITY otherwise); without, the digest is computed. Returns the digest.
   */
  writeBlob(digest: Digest | undefined, bytes: Uint8Array): Digest;
  /** Removes a blob; false when it was not there. */
  deleteBlob(digest: Digest): boolean;
  listBlobs(): BlobInfo[];
  /** Partial downloads left in ingest/. */
  listIngests(): IngestStatus[];
  /** Removes a partial download that no live process holds; false when none or locked. */
  removeIngest(digest: Digest): boolean;
  /** Re-hashes every blob and reports the ones whose content does not match their name. */
  verifyAll(options?: { removeBad?: boolean }): Promise<VerifyReport>;
}
