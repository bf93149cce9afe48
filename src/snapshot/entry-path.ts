/**
 * Pure rules for the names found in a layer: cleaning them, refusing the
 * ones that leave the layer, and recognizing whiteouts.
 *
 * The OCI image spec marks deletions with `.wh.<name>` files and opaque
 * directories with a `.wh..wh..opq` file inside them; overlayfs wants a 0/0
 * character device and the `trusted.overlay.opaque=y` xattr instead.
 */
import path from 'node:path';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** Names starting like this are aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): skipped. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

export type CleanPath = { ok: true; path: string } | { ok: false; reason: 'absolute' | 'escapes' | 'invalid' };

/**
 * The entry's path relative to the layer root: `./a//b/` becomes `a/b`, the
 * root itself is `''`. Absolute names and names whose `..` climb above the
 * root are refused, as are names with NUL bytes.
 */
export function cleanEntryPath(name: string): CleanPath {
  if (name.includes('\0')) return { ok: false, reason: 'invalid' };
  if (name.startsWith('/')) return { ok: false, reason: 'absolute' };
  if (name === '') return { ok: false, reason: 'invalid' };
  const normal = path.posix.normalize(name).replace(/\/+$/, '');
  if (normal === '..' || normal.startsWith('../')) return { ok: false, reason: 'escapes' };
  if (normal === '.' || normal === '') return { ok: true, path: '' };
  return { ok: true, path: normal };
}

export type WhiteoutKind =
  | { kind: 'none' }
  /** Delete `target` from the layers below. */
  | { kind: 'whiteout'; target: string }
  /** Hide everything below in directory `dir`. */
  | { kind: 'opaque'; dir: string }
  /** aufs metadata, ignored. */
  | { kind: 'meta' };

/** Classifies a cleaned path by its last component. */
export function whiteoutOf(cleanPath: string): WhiteoutKind {
  const slash = cleanPath.lastIndexOf('/');
  const dir = slash < 0 ? '' : cleanPath.slice(0, slash);
  const base = cleanPath.slice(slash + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') return { kind: 'meta' };
  return { kind: 'whiteout', target: dir === '' ? name : `${dir}/${name}` };
}

/** The directories leading to a cleaned path, outermost first: `a/b/c` -> [`a`, `a/b`]. */
export function parentsOf(cleanPath: string): string[] {
  const parts = cleanPath.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

export type Compression = 'gzip' | 'zstd' | 'none';

/** Compression by magic bytes: gzip 1f 8b, zstd 28 b5 2f fd, anything else is taken as tar. */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}
