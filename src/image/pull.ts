/**
 * The pull walk: reference -> manifest (choosing a platform from an index) ->
 * config -> layers. Blobs go through the content store (ingest, verify,
 * rename; partial downloads resume with a Range request), each layer is
 * unpacked by the layer store while its blob downloads and appears only once
 * both its diff id and the blob's digest verified. Recording
 * the image in the database is the caller's (the engine's) job, done only
 * when everything here succeeded.
 */
import fs from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { EngineError, ignoreProgress, type Digest, type ProgressSink } from '../common/index.js';
import type { ContentStore, Ingest } from '../content/index.js';
import type { RegistryClient } from '../registry/index.js';
import { chainIds, type LayerStore, type UnpackResult } from '../snapshot/index.js';
import { parseImageConfig, parseManifest, type Descriptor, type ImageConfig, type ImageManifest } from './manifest.js';
import { choosePlatform, hostPlatform, parsePlatform } from './platform.js';
import { formatReference, fullName, parseReference, type ImageReference } from './reference.js';

export interface PullDeps {
  registry: RegistryClient;
  content: ContentStore;
  layers: LayerStore;
  /** Uncompressed size of a layer already recorded (by the engine's database), if known. */
  knownLayerSize?(chainId: Digest): number | undefined;
}

export interface PullWalkOptions {
  platform?: string | undefined;
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ProgressSink | undefined;
}

export interface PulledLayer {
  chainId: Digest;
  diffId: Digest;
  parentChainId: Digest | null;
  blob: Descriptor;
  /** Uncompressed size. */
  size: number;
}

export interface PulledImage {
  ref: ImageReference;
  /** The digest the reference resolved to (the index's, for a multi-platform image). */
  repoDigest: string;
  manifestDigest: Digest;
  manifest: ImageManifest;
  configDigest: Digest;
  configBytes: Buffer;
  config: ImageConfig;
  layers: PulledLayer[];
  downloadedBytes: number;
  cachedLayers: number;
}

export async function pullImage(deps: PullDeps, input: string, options: PullWalkOptions = {}): Promise<PulledImage> {
  const context = `pull ${input}`;
  try {
    return await walk(deps, input, options);
  } catch (error) {
    // Whatever broke once the caller gave up (a timeout, Ctrl-C) is a symptom; say why it stopped.
    const signal = options.signal;
    if (signal?.aborted === true) throw stoppedError(context, signal.reason, error);
    throw error;
  }
}

function stoppedError(context: string, reason: unknown, error: unknown): EngineError {
  const timedOut = typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError';
  const why = timedOut ? 'timed out' : reason instanceof Error && reason.message !== '' && reason.name !== 'AbortError' ? reason.message : 'interrupted';
  return new EngineError('UNAVAILABLE', `${context}: ${why}`, {
    cause: error,
    hint: 'what was downloaded is kept; pull again to resume',
  });
}

async function walk(deps: PullDeps, input: string, options: PullWalkOptions): Promise<PulledImage> {
  const ref = parseReference(input);
  const name = formatReference(ref);
  const progress = options.onProgress ?? ignoreProgress;
  const signal = options.signal;
  const context = `pull ${input}`;

  const top = await deps.registry.getManifest(ref, { signal });
  progress({ kind: 'resolve', ref: name, digest: top.digest });
  let parsed = withContext(context, `manifest ${top.digest}`, () => parseManifest(top.bytes, top.mediaType));
  let manifestDigest = top.digest;
  let manifestBytes = top.bytes;
  if (parsed.kind === 'index') {
    const wanted = options.platform === undefined ? hostPlatform() : parsePlatform(options.platform);
    const chosen = choosePlatform(parsed.index, wanted);
    const child = await deps.registry.getManifest({ ...ref, digest: chosen.digest }, { signal });
    parsed = withContext(context, `manifest ${child.digest}`, () => parseManifest(child.bytes, child.mediaType));
    if (parsed.kind !== 'manifest') throw new EngineError('INTEGRITY', `${context}: index entry ${chosen.digest} is another index`);
    manifestDigest = child.digest;
    manifestBytes = child.bytes;
  }
  const manifest = parsed.manifest;

  const configDigest = manifest.config.digest as Digest;
  const configBytes = await fetchSmallBlob(deps, ref, manifest.config, signal);
  const config = withContext(context, `image config ${configDigest}`, () => parseImageConfig(configBytes));
  const diffIds = config.rootfs.diff_ids as Digest[];
  if (diffIds.length !== manifest.layers.length) {
    throw new EngineError(
      'INTEGRITY',
      `${context}: manifest lists ${manifest.layers.length} layers but the config has ${diffIds.length} diff ids`,
    );
  }
  const chain = chainIds(diffIds);

  // Stop every download when one fails or the user interrupts.
  const controller = new AbortController();
  const stopAll = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', stopAll, { once: true });
  let downloadedBytes = 0;
  let cachedLayers = 0;
  const sizes: number[] = new Array(manifest.layers.length).fill(0);

  const pullLayer = async (index: number) => {
    const blob = manifest.layers[index]!;
    const chainId = chain[index]!;
    if (deps.layers.hasLayer(chainId)) {
      sizes[index] = deps.knownLayerSize?.(chainId) ?? 0;
      cachedLayers++;
      progress({ kind: 'layer-cached', digest: blob.digest });
      return;
    }
    const blobDigest = blob.digest as Digest;
    const hadBlob = deps.content.has(blobDigest);
    // Extract events follow the blob's download (as a reader of the events expects); the unpack
    // itself starts with the first bytes.
    let downloading = true;
    let extracted = 0;
    const showExtract = () => progress({ kind: 'extract', digest: blob.digest, current: extracted, total: blob.size });
    const unpack: Unpack = (input, beforeCommit) =>
      deps.layers.unpackInto(chainId, input, diffIds[index]!, {
        what: `layer ${blob.digest}`,
        onProgress: (bytesIn: number) => {
          extracted = bytesIn;
          if (!downloading) showExtract();
        },
        ...(beforeCommit === undefined ? {} : { beforeCommit }),
      });
    const downloaded = () => {
      downloading = false;
      if (extracted > 0) showExtract();
    };
    let result: UnpackResult;
    try {
      const pulled = await downloadAndUnpack(deps, ref, blob, unpack, { signal: controller.signal, progress, downloaded });
      downloadedBytes += pulled.received;
      result = pulled.result;
    } catch (error) {
      // A layer refused for its content (bad diff id, hostile entries, corrupt data) leaves nothing
      // behind: its blob goes too, unless it was in the store before this pull.
      if (!hadBlob && error instanceof EngineError && error.code === 'INTEGRITY') deps.content.deleteBlob(blobDigest);
      throw error;
    }
    sizes[index] = result.size;
    progress({ kind: 'layer-done', digest: blob.digest });
  };

  try {
    await runLimited(manifest.layers.length, options.concurrency ?? 3, pullLayer, controller);
  } finally {
    signal?.removeEventListener('abort', stopAll);
  }

  // The manifests are kept too, so the image can be inspected (and later pushed or saved) as pulled.
  deps.content.writeBlob(manifestDigest, manifestBytes);
  if (top.digest !== manifestDigest) deps.content.writeBlob(top.digest, top.bytes);

  const layers: PulledLayer[] = manifest.layers.map((blob, index) => ({
    chainId: chain[index]!,
    diffId: diffIds[index]!,
    parentChainId: index === 0 ? null : chain[index - 1]!,
    blob,
    size: sizes[index]!,
  }));
  progress({ kind: 'done', ref: name, imageId: configDigest, digest: top.digest, downloadedBytes });
  return {
    ref,
    repoDigest: `${fullName(ref)}@${top.digest}`,
    manifestDigest,
    manifest,
    configDigest,
    configBytes,
    config,
    layers,
    downloadedBytes,
    cachedLayers,
  };
}

/**
 * Runs a parser of what the registry sent; its errors (which name only the
 * document) come back naming the pull and the object, the detail as cause.
 */
function withContext<T>(context: string, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    const code = error.code === 'INVALID_ARGUMENT' ? 'INTEGRITY' : error.code;
    const problem = error.code === 'NOT_IMPLEMENTED' ? 'is of a kind this engine cannot pull' : 'from the registry is not valid';
    throw new EngineError(code, `${context}: ${what} ${problem}`, { cause: error, ...(error.hint === undefined ? {} : { hint: error.hint }) });
  }
}

/** A config (or other small blob): from the store when present, else fetched whole and verified. */
async function fetchSmallBlob(deps: PullDeps, ref: ImageReference, descriptor: Descriptor, signal: AbortSignal | undefined): Promise<Buffer> {
  const digest = descriptor.digest as Digest;
  if (deps.content.has(digest)) return deps.content.readBlob(digest);
  const answer = await deps.registry.fetchBlob(ref.registry, ref.repository, digest, { signal });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > descriptor.size) {
      answer.body.destroy();
      throw new EngineError('INTEGRITY', `blob ${digest}: larger than the ${descriptor.size} bytes its descriptor says`);
    }
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== descriptor.size) {
    throw new EngineError('INTEGRITY', `blob ${digest}: got ${bytes.length} bytes, its descriptor says ${descriptor.size}`);
  }
  deps.content.writeBlob(digest, bytes);
  return bytes;
}

type Unpack = (input: Readable, beforeCommit?: () => Promise<void>) => Promise<UnpackResult>;

interface DownloadOptions {
  signal: AbortSignal;
  progress: ProgressSink;
  /** Called once every byte of the blob is on disk (as its verification starts). */
  downloaded(): void;
}

/**
 * Downloads one layer blob into the content store and unpacks it as the bytes
 * arrive; a resumed download first replays the bytes already on disk. The
 * layer gets its final name only once the blob verified too. A blob already
 * stored is unpacked from its file. Returns the bytes that came over the
 * network and what the unpack found.
 */
async function downloadAndUnpack(
  deps: PullDeps,
  ref: ImageReference,
  blob: Descriptor,
  unpack: Unpack,
  options: DownloadOptions,
): Promise<{ received: number; result: UnpackResult }> {
  const digest = blob.digest as Digest;
  const ingest = deps.content.has(digest) ? undefined : await deps.content.openIngest(digest, blob.size, { signal: options.signal });
  if (ingest === undefined || ingest.alreadyExists) {
    options.downloaded();
    return { received: 0, result: await unpack(fs.createReadStream(deps.content.blobPath(digest))) };
  }
  // A few MB of slack, so that neither side waits on the other's every chunk.
  const feed = new PassThrough({ highWaterMark: 4 << 20 });
  const download = downloadBlob(deps, ref, blob, ingest, feed, options);
  const unpacked = unpack(feed, async () => {
    await download;
  });
  // An unpack that stopped early (bad data) or never started reading takes no more bytes.
  unpacked.then(
    () => feed.destroy(),
    () => feed.destroy(),
  );
  const [downloadOutcome, unpackOutcome] = await Promise.allSettled([download, unpacked]);
  // The blob's own error first: a cut or corrupt download breaks the unpack too.
  if (downloadOutcome.status === 'rejected') throw downloadOutcome.reason;
  if (unpackOutcome.status === 'rejected') throw unpackOutcome.reason;
  return { received: downloadOutcome.value, result: unpackOutcome.value };
}

/**
 * Writes one blob into its ingest, resuming a partial download left by an
 * earlier attempt, and passes every byte (those already on disk first) to
 * the unpack's stream, at the pace the unpack reads. Returns the bytes that
 * came over the network.
 */
async function downloadBlob(
  deps: PullDeps,
  ref: ImageReference,
  blob: Descriptor,
  ingest: Ingest,
  feed: PassThrough,
  { signal, progress, downloaded }: DownloadOptions,
): Promise<number> {
  const digest = blob.digest as Digest;
  let received = 0;
  try {
    let body: AsyncIterable<Buffer> | Iterable<Buffer> = [];
    if (ingest.offset < blob.size) {
      const resumedFrom = ingest.offset;
      const answer = await deps.registry.fetchBlob(ref.registry, ref.repository, digest, { offset: ingest.offset, signal });
      if (answer.offset === 0 && ingest.offset > 0) ingest.reset();
      progress({ kind: 'download', digest, current: ingest.offset, total: blob.size, ...(resumedFrom > 0 && answer.offset > 0 ? { resumedFrom } : {}) });
      body = answer.body as AsyncIterable<Buffer>;
    }
    for await (const chunk of ingest.readWritten() as AsyncIterable<Buffer>) await feedChunk(feed, chunk);
    for await (const chunk of body) {
      ingest.write(chunk);
      received += chunk.length;
      progress({ kind: 'download', digest, current: ingest.offset, total: blob.size });
      await feedChunk(feed, chunk);
    }
    feed.end();
    progress({ kind: 'verify', digest });
    downloaded();
    await ingest.commit();
    return received;
  } catch (error) {
    // The unpack sees a premature end; the pull reports this error.
    feed.destroy();
    await ingest.abort();
    throw error;
  }
}

/** Writes to the unpack's stream, waiting while the unpack is behind; once it gave up, bytes are dropped. */
async function feedChunk(feed: PassThrough, chunk: Buffer): Promise<void> {
  if (feed.destroyed || feed.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      feed.off('drain', done);
      feed.off('close', done);
      resolve();
    };
    feed.on('drain', done);
    feed.on('close', done);
  });
}

/** Runs task(0..count-1) with at most `limit` at once; the first failure aborts the rest and is rethrown. */
async function runLimited(count: number, limit: number, task: (index: number) => Promise<void>, controller: AbortController): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < count) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        if (failure === undefined) {
          failure = error;
          controller.abort(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, worker));
  if (failure !== undefined) throw failure;
}
