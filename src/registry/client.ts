/**
 * The distribution (v2) client: ping, manifests, blobs with Range, manual
 * redirects, bearer and basic auth. One undici Agent per origin.
 *
 * Transport rules, as Docker's:
 *  - HTTPS with the system's CA bundle by default;
 *  - loopback registries (127.0.0.0/8, ::1, localhost) straight over HTTP;
 *  - registries named insecure: HTTPS without certificate checks first, then
 *    HTTP when that cannot connect.
 * Authorization goes only to the origin it was meant for; a redirect to any
 * other host is followed without it.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';

type Undici = typeof import('undici');
let undici: Promise<Undici> | undefined;

/** undici, loaded on the first request: commands that never reach a registry do not pay for it. */
function loadUndici(): Promise<Undici> {
  undici ??= import('undici');
  return undici;
}
import { EngineError, isDigest, type Digest } from '../common/index.js';
import {
  basicAuthorization,
  parseTokenAnswer,
  parseWwwAuthenticate,
  pullScope,
  TokenCache,
  tokenUrl,
  type Challenge,
  type Credential,
  type TokenAnswer,
} from './auth.js';
import type { CredentialStore } from './credentials.js';
import { errorForBrokenBody, errorForConnection, errorForStatus, isAbortError, isConnectionFailure } from './errors.js';
import { apiHost, canonicalRegistry, displayRepository, isInsecureRegistry, isLoopbackHost } from './hosts.js';

/** What the client needs of an image ref (the image module's ImageReference fits). */
export interface RepositoryReference {
  registry: string;
  repository: string;
  tag?: string | undefined;
  digest?: string | undefined;
}

/** Manifest media types asked for by default: OCI index and manifest, Docker list and schema 2. */
export const DEFAULT_MANIFEST_ACCEPT: readonly string[] = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

export const MAX_REDIRECTS = 5;
/** Manifests larger than this are refused (containerd uses the same limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface RegistryClientOptions {
  /** Registries spoken to without TLS verification, then over HTTP: `host`, `host:port` or an IPv4 CIDR. */
  insecureRegistries?: readonly string[];
  credentials?: CredentialStore;
  userAgent?: string;
  /** Extra CA certificates (PEM) trusted besides the system's. */
  extraCa?: string | Buffer;
  /** Milliseconds to wait for response headers, and between body chunks. Default 60 s / 120 s. */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export interface PingResult {
  registry: string;
  /** The URL the API answered at: `https://host/v2/` or `http://...`. */
  url: string;
  /** True when /v2/ answered 401: pulls will need a token or credentials. */
  authRequired: boolean;
  challenges: Challenge[];
}

export interface ManifestResult {
  /** sha256 of the bytes, equal to Docker-Content-Digest when sent and to the ref's digest when it had one. */
  digest: Digest;
  /** The Content-Type the registry sent, without parameters ('' when none). */
  mediaType: string;
  bytes: Buffer;
}

export interface BlobResult {
  /** 206 when the Range was honoured, 200 when the whole blob comes (start again from 0). */
  status: 200 | 206;
  /** Size of the whole blob, when the registry said. */
  totalSize: number | undefined;
  /** The byte offset the body starts at: the requested offset for 206, 0 for 200. */
  offset: number;
  /** The body; consume it or destroy it. Errors (a dropped connection, an abort) reach its readers. */
  body: Readable;
}

export interface FetchBlobOptions {
  offset?: number;
  signal?: AbortSignal;
}

export interface RegistryClient {
  ping(registry: string, options?: { signal?: AbortSignal }): Promise<PingResult>;
  getManifest(ref: RepositoryReference, options?: { accept?: readonly string[]; signal?: AbortSignal }): Promise<ManifestResult>;
  fetchBlob(registry: string, repository: string, digest: string, options?: FetchBlobOptions): Promise<BlobResult>;
  /** Verifies the credentials against the registry, then stores them. */
  login(registry: string, username: string, password: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Forgets the stored credentials (and cached tokens); false when there were none. */
  logout(registry: string): Promise<boolean>;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData<unknown>["body"];
  url: URL;
}

interface SendOptions {
  context: string;
  headers?: Record<string, string>;
  /** Sent only to this origin. */
  authorization?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Whether to follow redirects (for blobs and token realms; the API itself should not redirect). */
  followRedirects?: boolean;
}

function header(headers: Answer['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function headerList(headers: Answer['headers'], name: string): string[] {
  const value = headers[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

async function readCapped(body: Answer['body'], limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return { bytes: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

async function discard(body: Answer['body']): Promise<void> {
  try {
    await body.dump({ limit: 64 * 1024 });
  } catch {
    body.destroy();
  }
}

/**
 * The body handed to callers: the same bytes, with failures mid-body turned
 * into UNAVAILABLE errors naming the blob (aborts pass through unchanged), and
 * destroying it closes the response.
 */
function wrapBody(body: Answer['body'], context: string, host: string): Readable {
  const out = new Readable({
    highWaterMark: 256 * 1024,
    read() {
      body.resume();
    },
    destroy(error, callback) {
      body.destroy();
      callback(error);
    },
  });
  body.on('data', (chunk: Buffer) => {
    if (!out.push(chunk)) body.pause();
  });
  body.on('end', () => out.push(null));
  body.on('error', (error) => {
    out.destroy(isAbortError(error) ? error : errorForBrokenBody(context, host, error));
  });
  return out;
}

function systemCa(): string[] | undefined {
  for (const file of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem']) {
    try {
      const pem = fs.readFileSync(file, 'utf8');
      if (pem.includes('BEGIN CERTIFICATE')) return [pem];
    } catch {
      // try the next place
    }
  }
  return undefined;
}

export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const insecure = options.insecureRegistries ?? [];
  const userAgent = options.userAgent ?? 'didactic-container/0.1';
  const tokens = new TokenCache();
  const agents = new Map<string, Agent>();
  /** The origin (`scheme://host`) each registry answered at. */
  const origins = new Map<string, string>();
  /** The last challenge each registry sent, to ask for tokens before the first 401. */
  const knownChallenges = new Map<string, Challenge>();
  let ca: string[] | undefined;
  let caLoaded = false;

  function trustedCa(): string[] | undefined {
    if (!caLoaded) {
      caLoaded = true;
      const system = systemCa();
      const extra = options.extraCa === undefined ? [] : [options.extraCa.toString()];
      ca = system === undefined && extra.length === 0 ? undefined : [...(system ?? [...tls.rootCertificates]), ...extra];
    }
    return ca;
  }

  function agentFor(url: URL, verifyTls: boolean, http: Undici): Agent {
    const key = `${url.origin}|${verifyTls}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      agent = new http.Agent({
        connect: url.protocol === 'https:' ? { rejectUnauthorized: verifyTls, ca: verifyTls ? trustedCa() : undefined } : {},
        headersTimeout: options.headersTimeoutMs ?? 60_000,
        bodyTimeout: options.bodyTimeoutMs ?? 120_000,
        connections: 8,
      });
      agents.set(key, agent);
    }
    return agent;
  }

  /** Whether a host:port may be spoken to without TLS checks. */
  function isInsecureHost(hostPort: string): boolean {
    return isLoopbackHost(hostPort) || isInsecureRegistry(hostPort, insecure);
  }

  /**
   * One HTTP GET, following redirects by hand when asked: at most
   * MAX_REDIRECTS, never the same URL twice, Authorization only to the
   * original origin.
   */
  async function send(start: URL, opts: SendOptions): Promise<Answer> {
    const http = await loadUndici();
    let url = start;
    const seen = new Set<string>([url.href]);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': userAgent, ...opts.headers };
      if (opts.authorization !== undefined && url.origin === start.origin) headers.authorization = opts.authorization;
      const verifyTls = url.protocol !== 'https:' || !isInsecureHost(url.host);
      let res: Dispatcher.ResponseData<unknown>;
      try {
        const requestOptions: Parameters<Undici['request']>[1] = { method: 'GET', headers, dispatcher: agentFor(url, verifyTls, http) };
        if (opts.signal !== undefined) requestOptions.signal = opts.signal;
        res = await http.request(url, requestOptions);
      } catch (error) {
        if (isAbortError(error)) throw error;
        throw errorForConnection(opts.context, url.host, error);
      }
      const answer: Answer = { status: res.statusCode, headers: res.headers, body: res.body, url };
      const isRedirect = [301, 302, 303, 307, 308].includes(res.statusCode);
      if (!isRedirect || opts.followRedirects === false) return answer;

      await discard(res.body);
      const location = header(res.headers, 'location');
      if (location === undefined) {
        throw new EngineError('UNAVAILABLE', `${opts.context}: the registry redirected (${res.statusCode}) without a location`);
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new EngineError('UNAVAILABLE', `${opts.context}: the registry redirected to an invalid location`);
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new EngineError('UNAVAILABLE', `${opts.context}: the registry redirected to a ${next.protocol} url`);
      }
      if (seen.has(next.href)) {
        throw new EngineError('UNAVAILABLE', `${opts.context}: redirect loop (${next.host}${next.pathname} was visited before)`);
      }
      if (hop + 1 >= MAX_REDIRECTS) {
        throw new EngineError('UNAVAILABLE', `${opts.context}: too many redirects (more than ${MAX_REDIRECTS})`);
      }
      seen.add(next.href);
      url = next;
    }
  }

  /**
   * The registry's base origin, found by trying the schemes allowed for it:
   * loopback -> http; insecure -> https (unverified) then http; else https.
   * `run` is called with the origin and retried on the next scheme only when
   * it fails to connect.
   */
  async function withOrigin<T>(registry: string, run: (origin: string) => Promise<T>): Promise<T> {
    const known = origins.get(registry);
    if (known !== undefined) return run(known);
    const host = apiHost(registry);
    const schemes = isLoopbackHost(host) ? ['http'] : isInsecureRegistry(host, insecure) ? ['https', 'http'] : ['https'];
    let lastError: unknown;
    for (const scheme of schemes) {
      const origin = `${scheme}://${host}`;
      try {
        const result = await run(origin);
        origins.set(registry, origin);
        return result;
      } catch (error) {
        if (!isConnectionFailure(error) || scheme === schemes[schemes.length - 1]) throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  async function failure(answer: Answer, context: string, authenticated: boolean): Promise<EngineError> {
    let body = '';
    try {
      body = (await readCapped(answer.body, MAX_ERROR_BODY_BYTES)).bytes.toString('utf8');
    } catch {
      // the body is only for detail
    }
    return errorForStatus(context, {
      status: answer.status,
      body,
      retryAfter: header(answer.headers, 'retry-after'),
      authenticated,
    });
  }

  /** Fetches a bearer token for the scopes, with the stored credential when there is one. */
  async function fetchToken(
    registry: string,
    challenge: Challenge,
    scopes: readonly string[],
    credential: Credential | undefined,
    context: string,
    signal: AbortSignal | undefined,
  ): Promise<TokenAnswer> {
    const url = tokenUrl(challenge, scopes, context);
    const mayUseCredential =
      credential !== undefined && (url.protocol === 'https:' || isInsecureHost(url.host) || isInsecureHost(apiHost(registry)));
    if (credential !== undefined && !mayUseCredential) {
      throw new EngineError('PERMISSION_DENIED', `${context}: refusing to send credentials over plain http to the token server ${url.host}`, {
        hint: `name ${url.host} with --insecure-registry if that is intended`,
      });
    }
    const answer = await send(url, {
      context: `${context}: token server ${url.host}`,
      headers: { accept: 'application/json' },
      authorization: mayUseCredential ? basicAuthorization(credential!) : undefined,
      signal,
      followRedirects: true,
    });
    if (answer.status !== 200) {
      const err = await failure(answer, context, credential !== undefined);
      if (answer.status === 401 || answer.status === 403) {
        throw new EngineError(
          'PERMISSION_DENIED',
          credential !== undefined ? `${context}: the token server refused the stored credentials` : `${context}: the token server refused an anonymous token`,
          { cause: err.cause, hint: credential !== undefined ? `log in to ${registry} again` : `log in to ${registry} first` },
        );
      }
      throw err;
    }
    const { bytes, truncated } = await readCapped(answer.body, MAX_ERROR_BODY_BYTES);
    if (truncated) throw new EngineError('UNAVAILABLE', `${context}: the token server's answer is too large`);
    return parseTokenAnswer(bytes.toString('utf8'), context);
  }

  /** The Authorization header for a request to a registry under a scope, from what is known so far. */
  async function authorizationFor(
    registry: string,
    scope: string,
    context: string,
    signal: AbortSignal | undefined,
    fresh: boolean,
  ): Promise<string | undefined> {
    const challenge = knownChallenges.get(registry);
    if (challenge === undefined) return undefined;
    const credential = await options.credentials?.get(registry);
    if (challenge.scheme === 'basic') {
      return credential === undefined ? undefined : basicAuthorization(credential);
    }
    if (challenge.scheme !== 'bearer') return undefined;
    const cacheKey = `${scope}\n${challenge.params.realm ?? ''}`;
    if (!fresh) {
      const cached = tokens.get(registry, cacheKey);
      if (cached !== undefined) return `Bearer ${cached}`;
    }
    const scopes = scope === '' ? [] : [scope];
    const asked = challenge.params.scope;
    if (asked !== undefined && asked !== '' && !scopes.includes(asked)) scopes.push(asked);
    const answer = await fetchToken(registry, challenge, scopes, credential, context, signal);
    tokens.set(registry, cacheKey, answer.token, answer.expiresIn);
    return `Bearer ${answer.token}`;
  }

  /**
   * A GET to the registry's API with authentication: uses a cached token or
   * the known challenge up front, and on a 401 learns the challenge, gets a
   * fresh token (or uses basic credentials) and tries once more.
   */
  async function apiGet(
    registry: string,
    pathAndQuery: string,
    scope: string,
    opts: { context: string; headers?: Record<string, string>; signal?: AbortSignal | undefined; followRedirects?: boolean },
  ): Promise<Answer> {
    return withOrigin(registry, async (origin) => {
      const url = new URL(pathAndQuery, origin);
      let authorization = await authorizationFor(registry, scope, opts.context, opts.signal, false);
      let answer = await send(url, { ...opts, authorization });
      // A 401 from a host we were redirected to is that host's answer, not a registry challenge.
      if (answer.status !== 401 || answer.url.origin !== url.origin) return answer;

      const challenges = parseWwwAuthenticate(headerList(answer.headers, 'www-authenticate'));
      const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
      if (challenge === undefined) throw await failure(answer, opts.context, authorization !== undefined);
      const hadAuthorization = authorization !== undefined;
      const sameChallenge = JSON.stringify(knownChallenges.get(registry)) === JSON.stringify(challenge);
      if (hadAuthorization && sameChallenge && challenge.scheme === 'basic') {
        throw await failure(answer, opts.context, true);
      }
      await discard(answer.body);
      knownChallenges.set(registry, challenge);
      authorization = await authorizationFor(registry, scope, opts.context, opts.signal, true);
      if (authorization === undefined) {
        throw errorForStatus(opts.context, { status: 401, body: '', authenticated: false });
      }
      answer = await send(url, { ...opts, authorization });
      if (answer.status === 401) {
        // An anonymous token that lacks the scope is not a failed login: the user needs one.
        const withCredential = challenge.scheme === 'basic' || (await options.credentials?.get(registry)) !== undefined;
        throw await failure(answer, opts.context, withCredential);
      }
      return answer;
    });
  }

  function manifestContext(ref: RepositoryReference): string {
    const name = displayRepository(ref.registry, ref.repository);
    return `pull ${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
  }

  function checkRepository(context: string, repository: string): void {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)) {
      throw new EngineError('INVALID_ARGUMENT', `${context}: invalid repository name ${JSON.stringify(repository)}`);
    }
  }

  const client: RegistryClient = {
    async ping(registryName, pingOptions = {}) {
      const registry = canonicalRegistry(registryName);
      const context = `ping registry ${registry}`;
      return withOrigin(registry, async (origin) => {
        const url = new URL('/v2/', origin);
        const answer = await send(url, { context, signal: pingOptions.signal, followRedirects: false });
        if (answer.status === 200 || answer.status === 401) {
          const challenges = parseWwwAuthenticate(headerList(answer.headers, 'www-authenticate'));
          await discard(answer.body);
          const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
          if (answer.status === 401 && challenge !== undefined) knownChallenges.set(registry, challenge);
          return { registry, url: url.href, authRequired: answer.status === 401, challenges };
        }
        throw await failure(answer, context, false);
      });
    },

    async getManifest(ref, manifestOptions = {}) {
      const registry = canonicalRegistry(ref.registry);
      const context = manifestContext(ref);
      checkRepository(context, ref.repository);
      const reference = ref.digest ?? ref.tag;
      if (reference === undefined) throw new EngineError('INVALID_ARGUMENT', `${context}: the reference has neither a tag nor a digest`);
      if (ref.digest === undefined && !/^[\w][\w.-]{0,127}$/.test(reference)) {
        throw new EngineError('INVALID_ARGUMENT', `${context}: invalid tag ${JSON.stringify(reference)}`);
      }
      if (ref.digest !== undefined && !isDigest(ref.digest)) {
        throw new EngineError('INVALID_ARGUMENT', `${context}: ${JSON.stringify(ref.digest)} is not a sha256 digest`);
      }
      const accept = (manifestOptions.accept ?? DEFAULT_MANIFEST_ACCEPT).join(', ');
      const answer = await apiGet(registry, `/v2/${ref.repository}/manifests/${reference}`, pullScope(ref.repository), {
        context,
        headers: { accept },
        signal: manifestOptions.signal,
        followRedirects: true,
      });
      if (answer.status !== 200) throw await failure(answer, context, true);

      let read: { bytes: Buffer; truncated: boolean };
      try {
        read = await readCapped(answer.body, MAX_MANIFEST_BYTES);
      } catch (error) {
        if (isAbortError(error)) throw error;
        throw errorForConnection(context, answer.url.host, error);
      }
      if (read.truncated) {
        throw new EngineError('INTEGRITY', `${context}: the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
      }
      const bytes = read.bytes;
      const digest: Digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const claimed = header(answer.headers, 'docker-content-digest')?.trim();
      if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) {
        throw new EngineError('INTEGRITY', `${context}: the registry says the manifest is ${claimed} but its content is ${digest}`);
      }
      if (ref.digest !== undefined && ref.digest !== digest) {
        throw new EngineError('INTEGRITY', `${context}: the registry sent a manifest whose digest is ${digest}`);
      }
      const mediaType = (header(answer.headers, 'content-type') ?? '').split(';')[0]!.trim();
      return { digest, mediaType, bytes };
    },

    async fetchBlob(registryName, repository, digest, blobOptions = {}) {
      const registry = canonicalRegistry(registryName);
      const context = `fetch blob ${digest.slice(0, 19)} from ${displayRepository(registry, repository)}`;
      checkRepository(context, repository);
      if (!isDigest(digest)) throw new EngineError('INVALID_ARGUMENT', `${context}: ${JSON.stringify(digest)} is not a sha256 digest`);
      const offset = blobOptions.offset ?? 0;
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new EngineError('INVALID_ARGUMENT', `${context}: offset ${offset} is not a non-negative integer`);
      }

      const attempt = async (from: number): Promise<BlobResult | 'restart'> => {
        const headers: Record<string, string> = { accept: '*/*' };
        if (from > 0) headers.range = `bytes=${from}-`;
        const answer = await apiGet(registry, `/v2/${repository}/blobs/${digest}`, pullScope(repository), {
          context,
          headers,
          signal: blobOptions.signal,
          followRedirects: true,
        });
        const length = Number(header(answer.headers, 'content-length'));
        const contentLength = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
        if (answer.status === 200) {
          return { status: 200, totalSize: contentLength, offset: 0, body: wrapBody(answer.body, context, answer.url.host) };
        }
        if (answer.status === 206 && from > 0) {
          const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(answer.headers, 'content-range')?.trim() ?? '');
          if (range === null || Number(range[1]) !== from) {
            // A range we did not ask for: take the whole blob instead.
            await discard(answer.body);
            return 'restart';
          }
          const total = range[3] === '*' ? (contentLength === undefined ? undefined : from + contentLength) : Number(range[3]);
          return { status: 206, totalSize: total, offset: from, body: wrapBody(answer.body, context, answer.url.host) };
        }
        if (answer.status === 416 && from > 0) {
          await discard(answer.body);
          return 'restart';
        }
        throw await failure(answer, context, true);
      };

      let result = await attempt(offset);
      if (result === 'restart') result = await attempt(0);
      if (result === 'restart') throw new EngineError('UNAVAILABLE', `${context}: the registry answered a whole-blob request with a range`);
      return result;
    },

    async login(registryName, username, password, loginOptions = {}) {
      const registry = canonicalRegistry(registryName);
      const context = `login ${registry}`;
      if (username === '') throw new EngineError('INVALID_ARGUMENT', `${context}: the username is empty`);
      if (options.credentials === undefined) {
        throw new EngineError('FAILED_PRECONDITION', `${context}: this client has no credential store`);
      }
      const credential: Credential = { username, password };
      await withOrigin(registry, async (origin) => {
        const url = new URL('/v2/', origin);
        const first = await send(url, { context, signal: loginOptions.signal, followRedirects: false });
        if (first.status === 200) {
          // The registry asks for nothing; like Docker, accept the credentials as given.
          await discard(first.body);
          return;
        }
        if (first.status !== 401) throw await failure(first, context, false);
        const challenges = parseWwwAuthenticate(headerList(first.headers, 'www-authenticate'));
        await discard(first.body);
        const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
        if (challenge === undefined) {
          throw new EngineError('UNAVAILABLE', `${context}: the registry asks for authentication but names no scheme we know`);
        }
        let authorization: string;
        if (challenge.scheme === 'basic') {
          authorization = basicAuthorization(credential);
        } else {
          try {
            authorization = `Bearer ${(await fetchToken(registry, challenge, [], credential, context, loginOptions.signal)).token}`;
          } catch (error) {
            if (error instanceof EngineError && error.code === 'PERMISSION_DENIED') {
              throw new EngineError('PERMISSION_DENIED', `${context}: invalid username or password`, { cause: error });
            }
            throw error;
          }
        }
        const second = await send(url, { context, authorization, signal: loginOptions.signal, followRedirects: false });
        if (second.status === 401 || second.status === 403) {
          await discard(second.body);
          throw new EngineError('PERMISSION_DENIED', `${context}: invalid username or password`);
        }
        if (second.status !== 200) throw await failure(second, context, true);
        await discard(second.body);
        knownChallenges.set(registry, challenge);
      });
      tokens.clear(registry);
      await options.credentials.set(registry, credential);
    },

    async logout(registryName) {
      const registry = canonicalRegistry(registryName);
      tokens.clear(registry);
      if (options.credentials === undefined) return false;
      return options.credentials.remove(registry);
    },

    async close() {
      const all = [...agents.values()];
      agents.clear();
      await Promise.all(all.map((agent) => agent.close()));
    },
  };

  return client;
}
