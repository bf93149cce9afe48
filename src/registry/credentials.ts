/**
 * Stored registry credentials, in Docker's `config.json` format:
 *
 *   { "auths": { "localhost:5000": { "auth": base64("user:pass") },
 *                "https://index.docker.io/v1/": { "auth": "..." } } }
 *
 * Kept at ~/.config/didactic-container/auth.json unless a path is given,
 * written with mode 0600 through a temp file and rename. Other keys of the
 * file (and other entries) are kept as they are.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { EngineError } from '../common/index.js';
import type { Credential } from './auth.js';
import { credentialKey, registryFromCredentialKey } from './hosts.js';

export interface CredentialStore {
  /** The credential for a registry, or undefined. */
  get(registry: string): Promise<Credential | undefined>;
  /** Stores (replaces) the credential for a registry. */
  set(registry: string, credential: Credential): Promise<void>;
  /** Removes a registry's credential; false when there was none. */
  remove(registry: string): Promise<boolean>;
  /** The registries that have a credential, in canonical form. */
  list(): Promise<string[]>;
}

export interface FileCredentialStoreOptions {
  /** The file; default: $XDG_CONFIG_HOME or ~/.config, then didactic-container/auth.json. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

export function defaultCredentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DIDACTIC_CONTAINER_AUTH) return path.resolve(env.DIDACTIC_CONTAINER_AUTH);
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'didactic-container', 'auth.json');
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  [key: string]: unknown;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  [key: string]: unknown;
}

function decodeEntry(entry: AuthEntry, file: string, key: string): Credential | undefined {
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) {
      throw new EngineError('INVALID_ARGUMENT', `read credentials ${file}: the entry for ${key} is not base64 of user:password`);
    }
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** A credential store backed by one JSON file. */
export function createFileCredentialStore(options: FileCredentialStoreOptions = {}): CredentialStore & { path: string } {
  const file = options.path ?? defaultCredentialsPath(options.env);

  async function read(): Promise<ConfigFile> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new EngineError('UNAVAILABLE', `read credentials ${file}: ${(error as Error).message}`, { cause: error });
    }
    if (text.trim() === '') return {};
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // The parse error would quote the file, which holds secrets: say only where.
      throw new EngineError('INVALID_ARGUMENT', `read credentials ${file}: the file is not valid JSON`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new EngineError('INVALID_ARGUMENT', `read credentials ${file}: the file is not a JSON object`);
    }
    const config = doc as ConfigFile;
    if (config.auths !== undefined && (typeof config.auths !== 'object' || config.auths === null || Array.isArray(config.auths))) {
      throw new EngineError('INVALID_ARGUMENT', `read credentials ${file}: "auths" is not an object`);
    }
    return config;
  }

  async function write(config: ConfigFile): Promise<void> {
    const dir = path.dirname(file);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const handle = await fs.open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(config, null, '\t') + '\n');
        await handle.chmod(0o600);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, file);
    } catch (error) {
      await fs.rm(tmp, { force: true });
      throw new EngineError('UNAVAILABLE', `write credentials ${file}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`, { cause: error });
    }
  }

  /** Keys in the file that mean this registry (`host`, `https://host`, `https://host/v1/`, ...). */
  function matchingKeys(config: ConfigFile, registry: string): string[] {
    const wanted = registryFromCredentialKey(registry);
    return Object.keys(config.auths ?? {}).filter((key) => registryFromCredentialKey(key) === wanted);
  }

  return {
    path: file,

    async get(registry) {
      const config = await read();
      const keys = matchingKeys(config, registry);
      // The exact key first, then any spelling that means the same host.
      const exact = credentialKey(registry);
      keys.sort((a, b) => Number(b === exact) - Number(a === exact));
      for (const key of keys) {
        const found = decodeEntry(config.auths![key]!, file, key);
        if (found !== undefined) return found;
      }
      return undefined;
    },

    async set(registry, credential) {
      if (credential.username === '' || credential.username.includes(':')) {
        throw new EngineError('INVALID_ARGUMENT', `login ${registry}: the username must be non-empty and hold no ":"`);
      }
      const config = await read();
      const auths = { ...(config.auths ?? {}) };
      for (const key of matchingKeys(config, registry)) delete auths[key];
      auths[credentialKey(registry)] = {
        auth: Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64'),
      };
      await write({ ...config, auths });
    },

    async remove(registry) {
      const config = await read();
      const keys = matchingKeys(config, registry);
      if (keys.length === 0) return false;
      const auths = { ...(config.auths ?? {}) };
      for (const key of keys) delete auths[key];
      await write({ ...config, auths });
      return true;
    },

    async list() {
      const config = await read();
      return [...new Set(Object.keys(config.auths ?? {}).map(registryFromCredentialKey))].sort();
    },
  };
}

/** A store that keeps credentials in memory only (for one process, or tests). */
export function createMemoryCredentialStore(initial: Record<string, Credential> = {}): CredentialStore {
  const map = new Map<string, Credential>();
  for (const [registry, credential] of Object.entries(initial)) map.set(registryFromCredentialKey(registry), credential);
  return {
    async get(registry) {
      return map.get(registryFromCredentialKey(registry));
    },
    async set(registry, credential) {
      map.set(registryFromCredentialKey(registry), credential);
    },
    async remove(registry) {
      return map.delete(registryFromCredentialKey(registry));
    },
    async list() {
      return [...map.keys()].sort();
    },
  };
}
