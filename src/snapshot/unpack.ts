/**
 * Unpacks one layer stream into a directory and computes its diff id (the
 * sha256 of the uncompressed tar, every byte of it up to EOF).
 *
 *   input --(magic bytes: gzip | zstd | plain)--> decompressor --> sha256
 *                                                              \-> TarReader -> LayerApplier (sync fs)
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { pipeline, Readable, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

type ZstdModule = typeof import('zstd-napi');
let zstd: ZstdModule | undefined;

/** zstd-napi's native addon, loaded the first time a zstd layer arrives. */
function zstdModule(): ZstdModule {
  zstd ??= createRequire(import.meta.url)('zstd-napi') as ZstdModule;
  return zstd;
}
import { EngineError, type Digest } from '../common/index.js';
import { nativeConstants, sys, type NativeSys } from '../sys/index.js';
import { createLayerApplier, type ApplierDeps } from './apply.js';
import { detectCompression, type Compression } from './entry-path.js';
import { TarReader } from './tar-reader.js';

export interface UnpackOptions {
  /** Called as bytes flow: compressed bytes read, uncompressed bytes produced. */
  onProgress?(bytesIn: number, bytesOut: number): void;
  /** Names the layer in error messages, e.g. `layer sha256:...`; default `layer`. */
  what?: string;
  /** Kernel calls for device nodes and xattrs; the real addon by default. */
  sys?: Pick<NativeSys, 'mknod' | 'lsetxattr'>;
}

export interface UnpackResult {
  diffId: Digest;
  /** Bytes of the uncompressed tar. */
  size: number;
  compression: Compression;
  /** Entries in the archive. */
  entries: number;
}

const MAGIC_BYTES = 4;

export async function unpackLayer(input: Readable, targetDir: string, options: UnpackOptions = {}): Promise<UnpackResult> {
  const what = options.what ?? 'layer';
  fs.mkdirSync(targetDir, { recursive: true });
  const root = fs.realpathSync(targetDir);
  const deps: ApplierDeps = { sys: options.sys ?? sys, constants: nativeConstants() };

  const source = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let bytesIn = 0;
  const head: Buffer[] = [];
  let headLength = 0;
  let sourceDone = false;
  while (headLength < MAGIC_BYTES) {
    const next = await source.next();
    if (next.done) {
      sourceDone = true;
      break;
    }
    const chunk = toBuffer(next.value);
    head.push(chunk);
    headLength += chunk.length;
  }
  const compression = detectCompression(Buffer.concat(head));

  let inputError: unknown;
  async function* compressed(): AsyncGenerator<Buffer> {
    for (const chunk of head) {
      bytesIn += chunk.length;
      yield chunk;
    }
    if (sourceDone) return;
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await source.next();
      } catch (error) {
        inputError = error;
        throw error;
      }
      if (next.done) return;
      const chunk = toBuffer(next.value);
      bytesIn += chunk.length;
      yield chunk;
    }
  }

  const raw = Readable.from(compressed(), { objectMode: false });
  let decompressor: Transform | undefined;
  let output: Readable = raw;
  if (compression !== 'none') {
    decompressor = compression === 'gzip' ? zlib.createGunzip({ chunkSize: 256 * 1024, readableHighWaterMark: 4 << 20 } as zlib.ZlibOptions) : new (zstdModule().DecompressStream)();
    output = pipeline(raw, decompressor, () => {
      // Errors surface through the iteration below.
    });
  }

  const hash = createHash('sha256');
  const applier = createLayerApplier(root, what, deps);
  const reader = new TarReader(applier, what);
  let size = 0;
  try {
    for await (const chunk of output) {
      const buffer = chunk as Buffer;
      hash.update(buffer);
      size += buffer.length;
      reader.push(buffer);
      options.onProgress?.(bytesIn, size);
    }
    reader.finish();
    applier.finish();
  } catch (error) {
    throw asUnpackError(error, what, compression, error === inputError);
  } finally {
    applier.close();
    raw.destroy();
    decompressor?.destroy();
    if (!input.destroyed && !input.readableEnded) input.destroy();
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size, compression, entries: reader.entries };
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new EngineError('INVALID_ARGUMENT', 'unpack layer: the input stream must carry bytes');
}

function asUnpackError(error: unknown, what: string, compression: Compression, fromInput: boolean): EngineError {
  if (error instanceof EngineError) return error;
  if (fromInput) return new EngineError('UNAVAILABLE', `${what}: reading the layer failed`, { cause: error });
  const syscall = (error as NodeJS.ErrnoException | undefined)?.syscall;
  if (compression !== 'none' && syscall === undefined) {
    // Not a file system call: the decompressor refused the data.
    return new EngineError('INTEGRITY', `${what}: the ${compression} data is corrupt`, { cause: error });
  }
  return new EngineError('INTERNAL', `${what}: cannot unpack`, { cause: error });
}
