/**
 * The engine's lazily opened resources. A command opens only what it uses:
 * `version` opens nothing, `images` only the database, `pull` the registry
 * client too.
 */
import fs from 'node:fs';
import { type EnginePaths, type Explainer } from '../common/index.js';
import { openDatabase, type Database } from '../db/index.js';
import { createContentStore, type ContentStore } from '../content/index.js';
import { createLayerStore, type LayerStore } from '../snapshot/index.js';
import { createFileCredentialStore, createRegistryClient, type CredentialStore, type RegistryClient } from '../registry/index.js';

export interface EngineStateOptions {
  insecureRegistries?: readonly string[] | undefined;
  credentialsFile?: string | undefined;
}

export interface EngineState {
  readonly paths: EnginePaths;
  readonly explainer: Explainer;
  db(): Database;
  content(): ContentStore;
  layers(): LayerStore;
  credentials(): CredentialStore;
  registry(): RegistryClient;
  close(): Promise<void>;
}

export function createEngineState(paths: EnginePaths, explainer: Explainer, options: EngineStateOptions = {}): EngineState {
  let db: Database | undefined;
  let content: ContentStore | undefined;
  let layers: LayerStore | undefined;
  let credentials: CredentialStore | undefined;
  let registry: RegistryClient | undefined;
  const state: EngineState = {
    paths,
    explainer,
    db() {
      if (db === undefined) {
        fs.mkdirSync(paths.root, { recursive: true, mode: 0o711 });
        db = openDatabase(paths.db);
      }
      return db;
    },
    content() {
      content ??= createContentStore(paths);
      return content;
    },
    layers() {
      layers ??= createLayerStore(paths);
      return layers;
    },
    credentials() {
      credentials ??= createFileCredentialStore(options.credentialsFile === undefined ? {} : { path: options.credentialsFile });
      return credentials;
    },
    registry() {
      registry ??= createRegistryClient({
        credentials: state.credentials(),
        insecureRegistries: options.insecureRegistries ?? [],
        userAgent: 'didactic-container',
      });
      return registry;
    },
    async close() {
      db?.close();
      db = undefined;
      await registry?.close();
      registry = undefined;
    },
  };
  return state;
}
