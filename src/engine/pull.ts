/**
 * `pull` and `image new`: bring an image into the store, then record it in
 * the database in one transaction. Nothing is recorded unless every blob and
 * layer verified.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { EngineError, ignoreProgress, type Digest } from '../common/index.js';
import { images } from '../db/index.js';
import {
  MEDIA_TYPES,
  formatReference,
  hostPlatform,
  parseReference,
  pullImage,
  type ImageConfig,
  type PulledImage,
} from '../image/index.js';
import type { EngineState } from './state.js';
import type { ImportOptions, PullOptions, PullResult } from './types.js';

export async function pull(state: EngineState, input: string, options: PullOptions = {}): Promise<PullResult> {
  const db = state.db();
  const pulled = await pullImage(
    {
      registry: state.registry(),
      content: state.content(),
      layers: state.layers(),
      knownLayerSize: (chainId) => images.getLayer(db, chainId)?.size,
    },
    input,
    options,
  );
  recordPulled(state, pulled);
  return {
    ref: formatReference(pulled.ref),
    imageId: pulled.configDigest,
    manifestDigest: pulled.manifestDigest,
    downloadedBytes: pulled.downloadedBytes,
    layers: pulled.layers.length,
    cachedLayers: pulled.cachedLayers,
  };
}

function recordPulled(state: EngineState, pulled: PulledImage): void {
  const { config } = pulled;
  images.saveImage(
    state.db(),
    {
      id: pulled.configDigest,
      manifestDigest: pulled.manifestDigest,
      repoDigests: [pulled.repoDigest],
      config: pulled.configBytes.toString('utf8'),
      os: config.os,
      architecture: config.architecture,
      variant: config.variant ?? null,
      size: pulled.layers.reduce((sum, layer) => sum + layer.size, 0),
      created: config.created ?? null,
      addedAt: new Date().toISOString(),
    },
    pulled.layers.map((layer) => ({
      chainId: layer.chainId,
      diffId: layer.diffId,
      parentChainId: layer.parentChainId,
      blobDigest: layer.blob.digest,
      mediaType: layer.blob.mediaType,
      compressedSize: layer.blob.size,
      size: layer.size,
    })),
    // Pulled by digest alone: no tag, only the repo digest (as Docker does).
    pulled.ref.tag === undefined ? [] : [formatReference({ ...pulled.ref, digest: undefined } as typeof pulled.ref)],
  );
}

/**
 * `image new NAME --file|--url`: a root filesystem tarball (plain or gzip)
 * becomes a one-layer image. The tarball is kept as the layer blob, so the
 * image is a complete OCI image (config, manifest, layer) like a pulled one.
 */
export async function importImage(state: EngineState, name: string, options: ImportOptions): Promise<{ imageId: string; ref: string }> {
  const ref = parseReference(name);
  if (ref.digest !== undefined) throw new EngineError('INVALID_ARGUMENT', `image new ${name}: the name cannot contain a digest`);
  const progress = options.onProgress ?? ignoreProgress;
  const source = options.file ?? options.url ?? '';
  const context = `image new ${name}`;

  fs.mkdirSync(state.paths.tmp, { recursive: true, mode: 0o700 });
  const tmp = path.join(state.paths.tmp, `import-${randomBytes(8).toString('hex')}`);
  try {
    // 1. Copy the source aside, hashing what is stored (the blob digest).
    const blobHash = createHash('sha256');
    let size = 0;
    await pipeline(
      await openSource(options, context),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          blobHash.update(chunk);
          size += chunk.length;
          progress({ kind: 'download', digest: 'import', current: size, total: 0 });
          yield chunk;
        }
      },
      fs.createWriteStream(tmp, { mode: 0o600 }),
    );
    if (size === 0) throw new EngineError('INVALID_ARGUMENT', `${context}: ${source} is empty`);
    const blobDigest = `sha256:${blobHash.digest('hex')}` as Digest;
    const gzip = isGzip(tmp);

    // 2. The diff id (digest of the uncompressed tar) names the layer.
    const diffHash = createHash('sha256');
    const hashAll = async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) diffHash.update(chunk);
    };
    if (gzip) await pipeline(fs.createReadStream(tmp), zlib.createGunzip(), hashAll);
    else await pipeline(fs.createReadStream(tmp), hashAll);
    const diffId = `sha256:${diffHash.digest('hex')}` as Digest;

    // 3. Store the blob, unpack the layer (verified again against the diff id).
    const content = state.content();
    const hadBlob = content.has(blobDigest);
    if (!hadBlob) {
      const ingest = await content.openIngest(blobDigest, size);
      if (!ingest.alreadyExists) {
        ingest.reset();
        const fd = fs.openSync(tmp, 'r');
        try {
          const buffer = Buffer.allocUnsafe(1 << 20);
          for (let n = fs.readSync(fd, buffer); n > 0; n = fs.readSync(fd, buffer)) ingest.write(buffer.subarray(0, n));
        } finally {
          fs.closeSync(fd);
        }
        await ingest.commit();
      }
    }
    progress({ kind: 'verify', digest: blobDigest });
    const layers = state.layers();
    let layerSize: number;
    if (layers.hasLayer(diffId)) {
      layerSize = images.getLayer(state.db(), diffId)?.size ?? 0;
    } else {
      try {
        const result = await layers.unpackInto(diffId, fs.createReadStream(content.blobPath(blobDigest)), diffId, {
          what: `${context}: layer ${blobDigest}`,
          onProgress: (bytesIn: number) => progress({ kind: 'extract', digest: blobDigest, current: bytesIn, total: size }),
        });
        layerSize = result.size;
      } catch (error) {
        // Not a usable root file system: keep nothing of it.
        if (!hadBlob) content.deleteBlob(blobDigest);
        throw error;
      }
    }

    // 4. Config and manifest, then the rows.
    const now = new Date().toISOString();
    const platform = hostPlatform();
    const config: ImageConfig = {
      created: now,
      architecture: platform.architecture,
      os: 'linux',
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: now, created_by: `didactic-container image new ${name} ${options.file ? '--file' : '--url'} ${source}`, ...(options.message ? { comment: options.message } : {}) }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = content.writeBlob(undefined, configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: configDigest, size: configBytes.length },
      layers: [{ mediaType: gzip ? MEDIA_TYPES.ociLayerGzip : MEDIA_TYPES.ociLayerTar, digest: blobDigest, size }],
    };
    const manifestDigest = content.writeBlob(undefined, Buffer.from(JSON.stringify(manifest)));
    images.saveImage(
      state.db(),
      {
        id: configDigest,
        manifestDigest,
        repoDigests: [],
        config: configBytes.toString('utf8'),
        os: 'linux',
        architecture: platform.architecture,
        variant: platform.variant ?? null,
        size: layerSize,
        created: now,
        addedAt: now,
      },
      [{ chainId: diffId, diffId, parentChainId: null, blobDigest, mediaType: manifest.layers[0]!.mediaType, compressedSize: size, size: layerSize }],
      [formatReference(ref)],
    );
    progress({ kind: 'done', ref: formatReference(ref), imageId: configDigest, downloadedBytes: size });
    return { imageId: configDigest, ref: formatReference(ref) };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

async function openSource(options: ImportOptions, context: string): Promise<Readable> {
  if (options.file !== undefined) {
    try {
      const stat = fs.statSync(options.file);
      if (stat.isDirectory()) throw new EngineError('INVALID_ARGUMENT', `${context}: ${options.file} is a directory, not a tarball`);
    } catch (error) {
      if (error instanceof EngineError) throw error;
      throw new EngineError('NOT_FOUND', `${context}: cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { cause: error });
    }
    return fs.createReadStream(options.file);
  }
  const url = options.url!;
  if (!/^https?:\/\//.test(url)) throw new EngineError('INVALID_ARGUMENT', `${context}: --url must be http:// or https://, got ${url}`);
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (error) {
    throw new EngineError('UNAVAILABLE', `${context}: cannot reach ${new URL(url).host}`, { cause: error });
  }
  if (!response.ok || response.body === null) {
    throw new EngineError(response.status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE', `${context}: ${url} answered ${response.status}`);
  }
  return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
}

function isGzip(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    return fs.readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}
