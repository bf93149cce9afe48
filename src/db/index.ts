export { openDatabase, migrate, schemaVersion, type Database, type OpenOptions } from './open.js';
export { MIGRATIONS, type Migration } from './schema.js';
export * as images from './images.js';
export type { ImageRecord, ImageRow, LayerRecord } from './images.js';
export * as containers from './containers.js';
export type { ContainerRecord, ContainerState } from './containers.js';
export * as networks from './networks.js';
export type { NetworkRow, AttachmentRow, StoredPort } from './networks.js';
