/**
 * A real registry for tests: Debian's docker-registry (distribution v2.8) on
 * 127.0.0.1 with its storage in a temp dir, optionally behind htpasswd basic
 * auth or bearer tokens from a token server (test/helpers/token-server.ts). sharedRegistry() gives every test in a process the same one; under
 * test/run.ts the whole run shares one, named by DCTR_TEST_REGISTRY.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryCredentials {
  user: string;
  password: string;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of an image ref. */
  host: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** The credentials it requires, when started with htpasswd. */
  credentials?: RegistryCredentials;
  /** Kills the registry (by pid) and removes its storage; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Token authentication: where clients get tokens, and what the registry checks in them. */
export interface RegistryTokenAuth {
  /** The token server's URL, sent to clients in the Bearer challenge. */
  realm: string;
  /** The registry's name: the challenge's `service`, the token's `aud`. */
  service: string;
  /** The token's `iss` the registry accepts. */
  issuer: string;
  /** PEM certificate(s) whose keys may sign tokens (written as the rootcertbundle). */
  rootCertificatePem: string;
}

export interface StartRegistryOptions {
  htpasswd?: RegistryCredentials;
  /** Bearer token auth instead of htpasswd (the two exclude each other). */
  token?: RegistryTokenAuth;
  /** How long to wait for GET /v2/ to answer; default 15 s. */
  readyTimeoutMs?: number;
}

/** A port nobody listens on right now (the registry binds it a moment later). */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function registryConfig(dir: string, port: number, auth: Record<string, unknown> | undefined): string {
  // JSON is YAML, so the config needs no YAML writer.
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'data') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, headers: { 'X-Content-Type-Options': ['nosniff'] } },
  };
  if (auth) config['auth'] = auth;
  return JSON.stringify(config, null, 2);
}

function writeHtpasswd(path: string, credentials: RegistryCredentials): void {
  // The registry accepts only bcrypt entries.
  const result = spawnSync('htpasswd', ['-Bbn', credentials.user, credentials.password], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`htpasswd -B failed: ${result.stderr || result.error}`);
  writeFileSync(path, result.stdout, { mode: 0o600 });
}

async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function startOnce(options: StartRegistryOptions): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'dctr-registry-'));
  let child: ChildProcess | undefined;
  try {
    let auth: Record<string, unknown> | undefined;
    if (options.htpasswd && options.token) throw new Error('startRegistry: htpasswd and token exclude each other');
    if (options.htpasswd) {
      const htpasswdPath = join(dir, 'htpasswd');
      writeHtpasswd(htpasswdPath, options.htpasswd);
      auth = { htpasswd: { realm: 'didactic-test', path: htpasswdPath } };
    } else if (options.token) {
      const bundlePath = join(dir, 'token-roots.pem');
      writeFileSync(bundlePath, options.token.rootCertificatePem);
      const { realm, service, issuer } = options.token;
      auth = { token: { realm, service, issuer, rootcertbundle: bundlePath } };
    }
    const port = await findFreePort();
    const configPath = join(dir, 'config.yml');
    writeFileSync(configPath, registryConfig(dir, port, auth));
    const logPath = join(dir, 'registry.log');
    const logFd = openSync(logPath, 'a');
    // A clean environment: REGISTRY_* variables would override the config file.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
    child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', logFd, logFd], env });
    closeSync(logFd);
    const started = child;
    started.unref();
    let exited = false;
    started.once('exit', () => {
      exited = true;
    });
    const host = `127.0.0.1:${port}`;
    const url = `http://${host}`;
    const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
    for (;;) {
      if (exited) {
        throw new Error(`docker-registry exited early: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
      }
      try {
        const response = await fetch(`${url}/v2/`);
        await response.arrayBuffer();
        if (response.status === 200 || response.status === 401) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`docker-registry on ${host} did not answer GET /v2/ in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        if (started.pid !== undefined && !exited) {
          started.kill('SIGTERM');
          if (!(await waitForExit(started, 3000))) {
            started.kill('SIGKILL');
            await waitForExit(started, 3000);
          }
        }
        rmSync(dir, { recursive: true, force: true });
        registryProcesses.delete(registry);
      })();
      return stopped;
    };
    const registry: TestRegistry = { host, url, stop };
    if (options.htpasswd) registry.credentials = { ...options.htpasswd };
    registryProcesses.set(registry, { child: started, dir });
    return registry;
  } catch (error) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

const registryProcesses = new Map<TestRegistry, { child: ChildProcess; dir: string }>();

/** Starts a registry on a free loopback port (retrying if the port was taken meanwhile). */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

// Whatever a test forgot to stop dies with the process.
process.once('exit', () => {
  for (const { child, dir } of registryProcesses.values()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

let shared: Promise<TestRegistry> | undefined;

/**
 * The registry the whole run shares. Under test/run.ts it is named by
 * DCTR_TEST_REGISTRY (`127.0.0.1:PORT`) and stop() does nothing; otherwise one
 * is started for this process and stopped when the process exits.
 */
export function sharedRegistry(): Promise<TestRegistry> {
  shared ??= (async () => {
    const fromEnv = process.env['DCTR_TEST_REGISTRY'];
    if (fromEnv) return { host: fromEnv, url: `http://${fromEnv}`, stop: async () => {} };
    const registry = await startRegistry();
    return { ...registry, stop: async () => {} };
  })();
  return shared;
}
