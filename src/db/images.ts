/**
 * The images, tags, layers and image_layers tables (see schema.ts). Each
 * change is one immediate transaction; files on disk are handled by the
 * caller after the rows commit, so a crash leaves at worst an unreferenced
 * directory for garbage collection, never a row pointing at nothing.
 */
import { EngineError } from '../common/index.js';
import type { Database } from './open.js';

export interface LayerRecord {
  chainId: string;
  diffId: string;
  parentChainId: string | null;
  blobDigest: string | null;
  mediaType: string | null;
  compressedSize: number | null;
  size: number;
}

export interface ImageRecord {
  id: string;
  manifestDigest: string | null;
  repoDigests: string[];
  config: string;
  os: string;
  architecture: string;
  variant: string | null;
  size: number;
  created: string | null;
  addedAt: string;
}

export interface ImageRow extends ImageRecord {
  tags: string[];
  layers: string[];
}

interface RawImage {
  id: string;
  manifest_digest: string | null;
  repo_digests: string;
  config: string;
  os: string;
  architecture: string;
  variant: string | null;
  size: number;
  created: string | null;
  added_at: string;
}

function toRecord(row: RawImage): ImageRecord {
  return {
    id: row.id,
    manifestDigest: row.manifest_digest,
    repoDigests: JSON.parse(row.repo_digests) as string[],
    config: row.config,
    os: row.os,
    architecture: row.architecture,
    variant: row.variant,
    size: row.size,
    created: row.created,
    addedAt: row.added_at,
  };
}

function withRelations(db: Database, record: ImageRecord): ImageRow {
  const tags = db.prepare('SELECT name FROM tags WHERE image_id = ? ORDER BY name').pluck().all(record.id) as string[];
  const layers = db.prepare('SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY position').pluck().all(record.id) as string[];
  return { ...record, tags, layers };
}

/**
 * Records a complete image: its layers (shared ones already present are kept),
 * its stack, and its tags (a tag on another image moves here). Repo digests are
 * merged when the image is already known.
 */
export function saveImage(db: Database, image: ImageRecord, layers: LayerRecord[], tags: string[]): void {
  db.transaction(() => {
    const insertLayer = db.prepare(
      `INSERT OR IGNORE INTO layers(chain_id, diff_id, parent_chain_id, blob_digest, media_type, compressed_size, size, added_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const fillBlob = db.prepare(
      'UPDATE layers SET blob_digest = ?, media_type = ?, compressed_size = ? WHERE chain_id = ? AND blob_digest IS NULL',
    );
    for (const layer of layers) {
      insertLayer.run(layer.chainId, layer.diffId, layer.parentChainId, layer.blobDigest, layer.mediaType, layer.compressedSize, layer.size, image.addedAt);
      if (layer.blobDigest !== null) fillBlob.run(layer.blobDigest, layer.mediaType, layer.compressedSize, layer.chainId);
    }
    const existing = db.prepare('SELECT repo_digests FROM images WHERE id = ?').pluck().get(image.id) as string | undefined;
    if (existing === undefined) {
      db.prepare(
        `INSERT INTO images(id, manifest_digest, repo_digests, config, os, architecture, variant, size, created, added_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(image.id, image.manifestDigest, JSON.stringify(image.repoDigests), image.config, image.os, image.architecture, image.variant, image.size, image.created, image.addedAt);
      const insertStack = db.prepare('INSERT INTO image_layers(image_id, position, chain_id) VALUES (?, ?, ?)');
      layers.forEach((layer, position) => insertStack.run(image.id, position, layer.chainId));
    } else {
      const merged = [...new Set([...(JSON.parse(existing) as string[]), ...image.repoDigests])];
      db.prepare('UPDATE images SET repo_digests = ?, manifest_digest = COALESCE(?, manifest_digest) WHERE id = ?').run(
        JSON.stringify(merged),
        image.manifestDigest,
        image.id,
      );
    }
    const upsertTag = db.prepare('INSERT INTO tags(name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id');
    for (const tag of tags) upsertTag.run(tag, image.id);
  }).immediate();
}

export function getImage(db: Database, id: string): ImageRow | undefined {
  const row = db.prepare('SELECT * FROM images WHERE id = ?').get(id) as RawImage | undefined;
  return row === undefined ? undefined : withRelations(db, toRecord(row));
}

export function listImages(db: Database): ImageRow[] {
  const rows = db.prepare('SELECT * FROM images ORDER BY added_at DESC, id').all() as RawImage[];
  return rows.map((row) => withRelations(db, toRecord(row)));
}

export function imageIdForTag(db: Database, name: string): string | undefined {
  return db.prepare('SELECT image_id FROM tags WHERE name = ?').pluck().get(name) as string | undefined;
}

/** Image ids starting with a hex prefix (with or without `sha256:`). */
export function imageIdsByPrefix(db: Database, prefix: string): string[] {
  const hex = prefix.startsWith('sha256:') ? prefix.slice(7) : prefix;
  if (!/^[0-9a-f]{1,64}$/.test(hex)) return [];
  const full = `sha256:${hex}`;
  return db.prepare('SELECT id FROM images WHERE substr(id, 1, ?) = ? ORDER BY id').pluck().all(full.length, full) as string[];
}

/** Images whose repo digests include `repository@digest`. */
export function imageIdsByRepoDigest(db: Database, repoDigest: string): string[] {
  return db
    .prepare('SELECT images.id FROM images, json_each(images.repo_digests) WHERE json_each.value = ?')
    .pluck()
    .all(repoDigest) as string[];
}

export function setTag(db: Database, name: string, imageId: string): void {
  db.transaction(() => {
    if (db.prepare('SELECT 1 FROM images WHERE id = ?').get(imageId) === undefined) {
      throw new EngineError('NOT_FOUND', `tag ${name}: no such image ${imageId}`);
    }
    db.prepare('INSERT INTO tags(name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id').run(name, imageId);
  }).immediate();
}

/** Removes one tag; returns whether it existed. */
export function removeTag(db: Database, name: string): boolean {
  return db.prepare('DELETE FROM tags WHERE name = ?').run(name).changes > 0;
}

export function containersUsingImage(db: Database, imageId: string): { id: string; name: string; state: string }[] {
  return db.prepare('SELECT id, name, state FROM containers WHERE image_id = ? ORDER BY created_at').all(imageId) as {
    id: string;
    name: string;
    state: string;
  }[];
}

/**
 * Deletes an image row, its tags and stack, and every layer row no other image
 * stacks. Returns the layers that are now unreferenced (top first), for the
 * caller to delete from disk after the transaction committed.
 */
export function deleteImage(db: Database, imageId: string): LayerRecord[] {
  return db.transaction(() => {
    const chain = db.prepare('SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY position DESC').pluck().all(imageId) as string[];
    db.prepare('DELETE FROM images WHERE id = ?').run(imageId);
    const orphaned: LayerRecord[] = [];
    const refs = db.prepare('SELECT refs FROM layer_refs WHERE chain_id = ?').pluck();
    const children = db.prepare('SELECT COUNT(*) FROM layers WHERE parent_chain_id = ?').pluck();
    const read = db.prepare('SELECT * FROM layers WHERE chain_id = ?');
    const drop = db.prepare('DELETE FROM layers WHERE chain_id = ?');
    // Top of the stack first: a layer can go only when no image stacks it and no layer sits on it.
    for (const chainId of chain) {
      if ((refs.get(chainId) as number) === 0 && (children.get(chainId) as number) === 0) {
        orphaned.push(toLayer(read.get(chainId) as RawLayer));
        drop.run(chainId);
      }
    }
    return orphaned;
  }).immediate();
}

/** Images with no tag and no container: what `image prune` removes. */
export function danglingImageIds(db: Database): string[] {
  return db
    .prepare(
      `SELECT id FROM images
       WHERE NOT EXISTS (SELECT 1 FROM tags WHERE tags.image_id = images.id)
         AND NOT EXISTS (SELECT 1 FROM containers WHERE containers.image_id = images.id)
       ORDER BY id`,
    )
    .pluck()
    .all() as string[];
}

export function countLayerRefs(db: Database, chainId: string): number {
  return (db.prepare('SELECT refs FROM layer_refs WHERE chain_id = ?').pluck().get(chainId) as number | undefined) ?? 0;
}

interface RawLayer {
  chain_id: string;
  diff_id: string;
  parent_chain_id: string | null;
  blob_digest: string | null;
  media_type: string | null;
  compressed_size: number | null;
  size: number;
}

function toLayer(row: RawLayer): LayerRecord {
  return {
    chainId: row.chain_id,
    diffId: row.diff_id,
    parentChainId: row.parent_chain_id,
    blobDigest: row.blob_digest,
    mediaType: row.media_type,
    compressedSize: row.compressed_size,
    size: row.size,
  };
}

export function getLayer(db: Database, chainId: string): LayerRecord | undefined {
  const row = db.prepare('SELECT * FROM layers WHERE chain_id = ?').get(chainId) as RawLayer | undefined;
  return row === undefined ? undefined : toLayer(row);
}

export function listLayers(db: Database): LayerRecord[] {
  return (db.prepare('SELECT * FROM layers ORDER BY chain_id').all() as RawLayer[]).map(toLayer);
}
