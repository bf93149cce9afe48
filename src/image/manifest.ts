/**
 * Manifests, indexes and image configs: types and hand-written guards.
 *
 * Each parser takes untrusted JSON (from a registry or a tarball) and either
 * returns a typed value or throws an INTEGRITY error naming the field that was
 * wrong: `manifest: layers[2].digest must be a sha256 digest`. Unknown fields
 * are kept, as the specs require readers to ignore them.
 */
import { EngineError, isDigest, type Digest } from '../common/index.js';
import {
  MEDIA_TYPES,
  isIndexMediaType,
  isManifestMediaType,
  type IndexMediaType,
  type ManifestMediaType,
} from './media-types.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

/** An OCI image index or a Docker manifest list. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An OCI image manifest or a Docker schema 2 manifest. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ContainerConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  [key: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** An image config (OCI or Docker): how to run the image and what its layers are. */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  created?: string;
  author?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  [key: string]: unknown;
}

export type ParsedManifest =
  | { kind: 'index'; mediaType: IndexMediaType; index: ImageIndex }
  | { kind: 'manifest'; mediaType: ManifestMediaType; manifest: ImageManifest };

// ---------------------------------------------------------------- checks

type Json = Record<string, unknown>;

function bad(what: string, field: string, problem: string): EngineError {
  return new EngineError('INTEGRITY', `${what}: ${field} ${problem}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function object(value: unknown, what: string, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(what, field, `must be an object, not ${describe(value)}`);
  }
  return value as Json;
}

function string(value: unknown, what: string, field: string): string {
  if (typeof value !== 'string') throw bad(what, field, `must be a string, not ${describe(value)}`);
  return value;
}

function optionalString(obj: Json, key: string, what: string, prefix: string): void {
  if (obj[key] !== undefined) string(obj[key], what, prefix + key);
}

function stringArray(value: unknown, what: string, field: string): string[] {
  if (!Array.isArray(value)) throw bad(what, field, `must be an array of strings, not ${describe(value)}`);
  value.forEach((item, i) => string(item, what, `${field}[${i}]`));
  return value as string[];
}

function optionalStringArray(obj: Json, key: string, what: string, prefix: string, nullable = false): void {
  const value = obj[key];
  if (value === undefined || (nullable && value === null)) return;
  stringArray(value, what, prefix + key);
}

function stringRecord(value: unknown, what: string, field: string): Record<string, string> {
  const obj = object(value, what, field);
  for (const [k, v] of Object.entries(obj)) string(v, what, `${field}[${JSON.stringify(k)}]`);
  return obj as Record<string, string>;
}

function objectRecord(value: unknown, what: string, field: string): void {
  const obj = object(value, what, field);
  for (const [k, v] of Object.entries(obj)) object(v, what, `${field}[${JSON.stringify(k)}]`);
}

function digest(value: unknown, what: string, field: string): Digest {
  if (!isDigest(value)) throw bad(what, field, `must be a sha256 digest, not ${JSON.stringify(value) ?? 'undefined'}`);
  return value;
}

function schemaVersion2(obj: Json, what: string): void {
  if (obj.schemaVersion !== 2) {
    throw bad(what, 'schemaVersion', `must be 2, not ${JSON.stringify(obj.schemaVersion) ?? 'undefined'}`);
  }
}

function checkPlatform(value: unknown, what: string, field: string): void {
  const obj = object(value, what, field);
  string(obj.architecture, what, `${field}.architecture`);
  string(obj.os, what, `${field}.os`);
  optionalString(obj, 'variant', what, `${field}.`);
  optionalString(obj, 'os.version', what, `${field}.`);
  optionalStringArray(obj, 'os.features', what, `${field}.`);
  optionalStringArray(obj, 'features', what, `${field}.`);
}

function checkDescriptor(value: unknown, what: string, field: string): Descriptor {
  const obj = object(value, what, field);
  string(obj.mediaType, what, `${field}.mediaType`);
  digest(obj.digest, what, `${field}.digest`);
  const size = obj.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw bad(what, `${field}.size`, `must be a non-negative integer, not ${JSON.stringify(size) ?? 'undefined'}`);
  }
  optionalStringArray(obj, 'urls', what, `${field}.`);
  if (obj.annotations !== undefined) stringRecord(obj.annotations, what, `${field}.annotations`);
  if (obj.platform !== undefined) checkPlatform(obj.platform, what, `${field}.platform`);
  optionalString(obj, 'artifactType', what, `${field}.`);
  optionalString(obj, 'data', what, `${field}.`);
  return obj as unknown as Descriptor;
}

function checkDescriptors(value: unknown, what: string, field: string): Descriptor[] {
  if (!Array.isArray(value)) throw bad(what, field, `must be an array, not ${describe(value)}`);
  return value.map((item, i) => checkDescriptor(item, what, `${field}[${i}]`));
}

// ---------------------------------------------------------------- guards

/** Checks an already-decoded value as an index or manifest list; throws naming the bad field. */
export function assertImageIndex(value: unknown, what = 'index'): asserts value is ImageIndex {
  const obj = object(value, what, 'document');
  schemaVersion2(obj, what);
  optionalString(obj, 'mediaType', what, '');
  optionalString(obj, 'artifactType', what, '');
  checkDescriptors(obj.manifests, what, 'manifests');
  if (obj.subject !== undefined) checkDescriptor(obj.subject, what, 'subject');
  if (obj.annotations !== undefined) stringRecord(obj.annotations, what, 'annotations');
}

/** Checks an already-decoded value as an image manifest; throws naming the bad field. */
export function assertImageManifest(value: unknown, what = 'manifest'): asserts value is ImageManifest {
  const obj = object(value, what, 'document');
  schemaVersion2(obj, what);
  optionalString(obj, 'mediaType', what, '');
  optionalString(obj, 'artifactType', what, '');
  checkDescriptor(obj.config, what, 'config');
  checkDescriptors(obj.layers, what, 'layers');
  if (obj.subject !== undefined) checkDescriptor(obj.subject, what, 'subject');
  if (obj.annotations !== undefined) stringRecord(obj.annotations, what, 'annotations');
}

/** Checks an already-decoded value as an image config; throws naming the bad field. */
export function assertImageConfig(value: unknown, what = 'image config'): asserts value is ImageConfig {
  const obj = object(value, what, 'document');
  string(obj.architecture, what, 'architecture');
  string(obj.os, what, 'os');
  optionalString(obj, 'variant', what, '');
  optionalString(obj, 'os.version', what, '');
  optionalString(obj, 'created', what, '');
  optionalString(obj, 'author', what, '');
  if (obj.config !== undefined && obj.config !== null) {
    const c = object(obj.config, what, 'config');
    optionalString(c, 'User', what, 'config.');
    optionalStringArray(c, 'Env', what, 'config.', true);
    optionalStringArray(c, 'Entrypoint', what, 'config.', true);
    optionalStringArray(c, 'Cmd', what, 'config.', true);
    optionalString(c, 'WorkingDir', what, 'config.');
    optionalString(c, 'StopSignal', what, 'config.');
    if (c.ExposedPorts !== undefined && c.ExposedPorts !== null) objectRecord(c.ExposedPorts, what, 'config.ExposedPorts');
    if (c.Volumes !== undefined && c.Volumes !== null) objectRecord(c.Volumes, what, 'config.Volumes');
    if (c.Labels !== undefined && c.Labels !== null) stringRecord(c.Labels, what, 'config.Labels');
  }
  const rootfs = object(obj.rootfs, what, 'rootfs');
  if (rootfs.type !== 'layers') {
    throw bad(what, 'rootfs.type', `must be "layers", not ${JSON.stringify(rootfs.type) ?? 'undefined'}`);
  }
  if (!Array.isArray(rootfs.diff_ids)) throw bad(what, 'rootfs.diff_ids', `must be an array, not ${describe(rootfs.diff_ids)}`);
  rootfs.diff_ids.forEach((d, i) => digest(d, what, `rootfs.diff_ids[${i}]`));
  if (obj.history !== undefined && obj.history !== null) {
    if (!Array.isArray(obj.history)) throw bad(what, 'history', `must be an array, not ${describe(obj.history)}`);
    obj.history.forEach((entry, i) => {
      const h = object(entry, what, `history[${i}]`);
      for (const key of ['created', 'created_by', 'author', 'comment']) optionalString(h, key, what, `history[${i}].`);
      if (h.empty_layer !== undefined && typeof h.empty_layer !== 'boolean') {
        throw bad(what, `history[${i}].empty_layer`, `must be a boolean, not ${describe(h.empty_layer)}`);
      }
    });
  }
}

export function isImageIndex(value: unknown): value is ImageIndex {
  return passes(() => assertImageIndex(value));
}

export function isImageManifest(value: unknown): value is ImageManifest {
  return passes(() => assertImageManifest(value));
}

export function isImageConfig(value: unknown): value is ImageConfig {
  return passes(() => assertImageConfig(value));
}

function passes(check: () => void): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- parsing

/** Decodes JSON bytes; a document that is not JSON is an INTEGRITY error. */
export function decodeJson(bytes: Uint8Array | string, what: string): unknown {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const preview = text.slice(0, 40).replace(/[^\x20-\x7e]/g, '.');
    throw new EngineError('INTEGRITY', `${what} is not valid JSON (starts with ${JSON.stringify(preview)})`, { cause: error });
  }
}

/** Media types a registry may send that say nothing about the document. */
function isGenericMediaType(mediaType: string): boolean {
  return (
    mediaType === '' ||
    mediaType === 'application/json' ||
    mediaType === 'text/plain' ||
    mediaType === 'application/octet-stream' ||
    mediaType === 'binary/octet-stream'
  );
}

/**
 * Parses a manifest or index from its bytes. The Content-Type header decides
 * when it is specific; when it is generic (application/json, text/plain,
 * absent) the document's own mediaType field decides, and without that its
 * shape (`manifests` means an index, `config` + `layers` a manifest).
 */
export function parseManifest(bytes: Uint8Array | string, mediaTypeHeader?: string | null): ParsedManifest {
  const header = (mediaTypeHeader ?? '').split(';')[0]!.trim().toLowerCase();
  const doc = object(decodeJson(bytes, 'manifest'), 'manifest', 'document');
  const own = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;

  if (header === MEDIA_TYPES.dockerSchema1 || header === MEDIA_TYPES.dockerSchema1Signed || doc.schemaVersion === 1) {
    throw new EngineError('NOT_IMPLEMENTED', 'manifest: docker image manifest schema 1 is not supported', {
      hint: 'the image must be pushed again with a current client (schema 2 or OCI)',
    });
  }

  let mediaType: string;
  if (!isGenericMediaType(header)) {
    if (own !== undefined && own !== header && (isIndexMediaType(own) || isManifestMediaType(own))) {
      throw new EngineError('INTEGRITY', `manifest: mediaType ${JSON.stringify(own)} does not match the content type ${JSON.stringify(header)} the registry sent`);
    }
    mediaType = header;
  } else if (own !== undefined) {
    mediaType = own;
  } else if (Array.isArray(doc.manifests)) {
    mediaType = MEDIA_TYPES.ociIndex;
  } else if (doc.config !== undefined && Array.isArray(doc.layers)) {
    mediaType = MEDIA_TYPES.ociManifest;
  } else {
    throw new EngineError('INTEGRITY', 'manifest: neither mediaType nor the document\'s shape says whether it is an index or a manifest');
  }

  if (isIndexMediaType(mediaType)) {
    assertImageIndex(doc, 'index');
    return { kind: 'index', mediaType, index: doc };
  }
  if (isManifestMediaType(mediaType)) {
    assertImageManifest(doc, 'manifest');
    return { kind: 'manifest', mediaType, manifest: doc };
  }
  throw new EngineError('NOT_IMPLEMENTED', `manifest: media type ${JSON.stringify(mediaType)} is not an image index or manifest`);
}

/** Parses an image config blob. */
export function parseImageConfig(bytes: Uint8Array | string): ImageConfig {
  const doc = decodeJson(bytes, 'image config');
  assertImageConfig(doc);
  return doc;
}
