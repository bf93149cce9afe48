/** The image module: references, media types, manifests and platform choice. */
export {
  DEFAULT_REGISTRY,
  DEFAULT_TAG,
  DOCKER_HUB_API_HOST,
  parseReference,
  formatReference,
  familiarName,
  familiarRepository,
  fullName,
  registryApiHost,
  isValidTag,
  type ImageReference,
} from './reference.js';
export * from './media-types.js';
export {
  parseManifest,
  parseImageConfig,
  decodeJson,
  assertImageIndex,
  assertImageManifest,
  assertImageConfig,
  isImageIndex,
  isImageManifest,
  isImageConfig,
  type Platform,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type ImageConfig,
  type ContainerConfig,
  type HistoryEntry,
  type ParsedManifest,
} from './manifest.js';
export {
  hostPlatform,
  parsePlatform,
  normalizePlatform,
  formatPlatform,
  choosePlatform,
  type PlatformSpec,
} from './platform.js';
export { pullImage, type PullDeps, type PullWalkOptions, type PulledImage, type PulledLayer } from './pull.js';
