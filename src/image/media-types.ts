/** Media types of the OCI image spec and of Docker's image manifest v2. */

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableTar: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
} as const;

export type IndexMediaType = typeof MEDIA_TYPES.ociIndex | typeof MEDIA_TYPES.dockerManifestList;
export type ManifestMediaType = typeof MEDIA_TYPES.ociManifest | typeof MEDIA_TYPES.dockerManifest;

export const INDEX_MEDIA_TYPES: readonly IndexMediaType[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList];
export const MANIFEST_MEDIA_TYPES: readonly ManifestMediaType[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];

/** The Accept header a pull sends for manifests: every kind it understands. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.dockerManifest,
];

export const CONFIG_MEDIA_TYPES: readonly string[] = [MEDIA_TYPES.ociConfig, MEDIA_TYPES.dockerConfig];

export const LAYER_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPES.ociLayerTar,
  MEDIA_TYPES.ociLayerGzip,
  MEDIA_TYPES.ociLayerZstd,
  MEDIA_TYPES.ociLayerNondistributableTar,
  MEDIA_TYPES.ociLayerNondistributableGzip,
  MEDIA_TYPES.ociLayerNondistributableZstd,
  MEDIA_TYPES.dockerLayerGzip,
  MEDIA_TYPES.dockerLayerForeignGzip,
  MEDIA_TYPES.dockerLayerZstd,
];

export function isIndexMediaType(value: unknown): value is IndexMediaType {
  return typeof value === 'string' && (INDEX_MEDIA_TYPES as readonly string[]).includes(value);
}

export function isManifestMediaType(value: unknown): value is ManifestMediaType {
  return typeof value === 'string' && (MANIFEST_MEDIA_TYPES as readonly string[]).includes(value);
}

export function isLayerMediaType(value: unknown): boolean {
  return typeof value === 'string' && LAYER_MEDIA_TYPES.includes(value);
}

/**
 * The compression a layer's media type claims. Pull trusts the magic bytes,
 * not this; it is for display and for choosing what to expect.
 */
export function layerCompression(mediaType: string): 'gzip' | 'zstd' | 'none' | 'unknown' {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.tar.zstd')) return 'zstd';
  if (mediaType.endsWith('.tar')) return 'none';
  return 'unknown';
}
