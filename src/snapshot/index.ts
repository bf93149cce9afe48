/** Layers: unpack (whiteouts, xattrs, devices), chain ids, and overlay mounts described as data. */
export { chainId, chainIds } from './chain-id.js';
export { unpackLayer, type UnpackOptions, type UnpackResult } from './unpack.js';
export { createLayerStore, type LayerInfo, type LayerStore, type LayerUnpackOptions } from './layers.js';
export {
  describeRootfsMount,
  escapeOverlayPath,
  MOUNT_DATA_MAX,
  type MountDescription,
  type RootfsMountRequest,
} from './overlay.js';
export { cleanEntryPath, detectCompression, whiteoutOf, type Compression } from './entry-path.js';
export { TarReader, parsePaxRecords, type TarEntryKind, type TarHeader, type TarSink } from './tar-reader.js';
