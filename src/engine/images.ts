/**
 * Image verbs over the store: list, inspect, history, tag, remove, prune.
 * Output shapes follow Docker's (`docker image inspect` JSON, `docker images`
 * columns), with familiar names (`busybox:latest`) for display.
 */
import { EngineError, type Digest } from '../common/index.js';
import { images, type ImageRow, type LayerRecord } from '../db/index.js';
import { familiarName, familiarRepository, formatReference, parseImageConfig, parseReference, type ImageConfig } from '../image/index.js';
import { resolveImage } from './resolve-image.js';
import type { EngineState } from './state.js';
import type { ImageSummary, ImageInspect, HistoryItem, RemoveImageReport, PruneReport } from './types.js';

function familiar(name: string): string {
  return familiarName(parseReference(name));
}

function repoDigestsOf(row: ImageRow): string[] {
  return row.repoDigests.map((value) => {
    const at = value.lastIndexOf('@');
    return `${familiarRepository(parseReference(value.slice(0, at)))}${value.slice(at)}`;
  });
}

export function summarize(row: ImageRow): ImageSummary {
  return {
    Id: row.id,
    RepoTags: row.tags.map(familiar),
    RepoDigests: repoDigestsOf(row),
    Created: row.created,
    Size: row.size,
    Containers: -1,
  };
}

export function listImageSummaries(state: EngineState): ImageSummary[] {
  return images.listImages(state.db()).map(summarize);
}

export function inspectImage(state: EngineState, input: string): ImageInspect {
  const row = resolveImage(state.db(), input);
  const config = parseImageConfig(row.config);
  return {
    Id: row.id,
    RepoTags: row.tags.map(familiar),
    RepoDigests: repoDigestsOf(row),
    Parent: '',
    Comment: config.history?.at(-1)?.comment ?? '',
    Created: row.created,
    Author: config.author ?? '',
    Config: config.config ?? {},
    Architecture: row.architecture,
    Variant: row.variant ?? undefined,
    Os: row.os,
    Size: row.size,
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Metadata: { LastTagTime: row.addedAt },
    Descriptor: row.manifestDigest === null ? undefined : { digest: row.manifestDigest },
  };
}

export function imageHistory(state: EngineState, input: string): HistoryItem[] {
  const row = resolveImage(state.db(), input);
  const config: ImageConfig = parseImageConfig(row.config);
  const db = state.db();
  const sizes = row.layers.map((chainId) => (db.prepare('SELECT size FROM layers WHERE chain_id = ?').pluck().get(chainId) as number | undefined) ?? 0);
  const history = config.history ?? config.rootfs.diff_ids.map(() => ({}) as NonNullable<ImageConfig['history']>[number]);
  let layer = 0;
  const items = history.map((entry, index) => {
    const empty = entry.empty_layer === true;
    const size = empty ? 0 : (sizes[layer] ?? 0);
    if (!empty) layer++;
    return {
      Id: index === history.length - 1 ? row.id : '<missing>',
      Created: entry.created ?? null,
      CreatedBy: entry.created_by ?? '',
      Size: size,
      Comment: entry.comment ?? '',
      Tags: index === history.length - 1 ? row.tags.map(familiar) : [],
    };
  });
  return items.reverse();
}

/** `image tag SOURCE TARGET`: TARGET (a name, `:latest` by default) now names SOURCE's image. */
export function tagImage(state: EngineState, source: string, target: string): void {
  const db = state.db();
  const row = resolveImage(db, source);
  const ref = parseReference(target);
  if (ref.digest !== undefined) throw new EngineError('INVALID_ARGUMENT', `tag ${target}: a tag cannot contain a digest`);
  images.setTag(db, formatReference(ref), row.id);
}

/**
 * `image rm`: given a tag, removes the tag, and the image when it was its last
 * tag; given an id, removes the image and all its tags (Docker refuses an id
 * with several repositories unless forced). Images used by containers are
 * refused unless forced. Unreferenced layers and blobs are deleted after the
 * rows commit.
 */
export function removeImage(state: EngineState, input: string, options: { force?: boolean } = {}): RemoveImageReport[] {
  const db = state.db();
  const row = resolveImage(db, input);
  const reports: RemoveImageReport[] = [];
  const byTag = isTagReference(input, row);
  const users = images.containersUsingImage(db, row.id);
  if (byTag !== undefined && row.tags.length > 1) {
    images.removeTag(db, byTag);
    return [{ Untagged: familiar(byTag) }];
  }
  if (users.length > 0 && !options.force) {
    const who = users[0]!;
    throw new EngineError(
      'CONFLICT',
      `unable to remove image ${input}: image is used by ${who.state} container ${who.id.slice(0, 12)} (${who.name})`,
      { hint: 'remove the container first, or use --force' },
    );
  }
  if (byTag === undefined && row.tags.length > 1 && !options.force) {
    throw new EngineError('CONFLICT', `unable to delete ${row.id.slice(7, 19)}: image is referenced in multiple repositories`, {
      hint: 'remove the tags one by one, or use --force',
    });
  }
  if (users.length > 0) {
    // Forced while containers use it: untag only, the image stays for its containers (Docker's behaviour).
    for (const tag of row.tags) if (images.removeTag(db, tag)) reports.push({ Untagged: familiar(tag) });
    return reports;
  }
  for (const tag of row.tags) reports.push({ Untagged: familiar(tag) });
  const orphaned = images.deleteImage(db, row.id);
  reports.push({ Deleted: row.id });
  deleteFiles(state, row, orphaned);
  return reports;
}

function isTagReference(input: string, row: ImageRow): string | undefined {
  try {
    const name = formatReference(parseReference(input));
    return row.tags.includes(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the files of an image whose rows are gone: orphaned layer dirs and their blobs, config and manifest. */
function deleteFiles(state: EngineState, row: ImageRow, orphaned: LayerRecord[]): void {
  const content = state.content();
  const layerStore = state.layers();
  for (const layer of orphaned) layerStore.removeLayer(layer.chainId as Digest);
  const stillUsed = new Set(images.listLayers(state.db()).map((layer) => layer.blobDigest));
  const blobs = [row.id, row.manifestDigest, ...orphaned.map((layer) => layer.blobDigest)];
  for (const digest of blobs) {
    if (digest !== null && !stillUsed.has(digest) && content.has(digest as Digest)) content.deleteBlob(digest as Digest);
  }
}

export function pruneImages(state: EngineState): PruneReport {
  const db = state.db();
  const report: PruneReport = { ImagesDeleted: [], SpaceReclaimed: 0 };
  for (const id of images.danglingImageIds(db)) {
    const row = images.getImage(db, id);
    if (row === undefined) continue;
    const orphaned = images.deleteImage(db, id);
    deleteFiles(state, row, orphaned);
    report.ImagesDeleted.push({ Deleted: id });
    report.SpaceReclaimed += row.size;
  }
  return report;
}
