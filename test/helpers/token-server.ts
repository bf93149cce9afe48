/**
 * A small bearer-token server for tests, the kind of peer distribution's
 * token authentication spec describes
 * (https://distribution.github.io/distribution/spec/auth/token/): the
 * registry answers 401 with `WWW-Authenticate: Bearer realm=...,service=...,
 * scope=...`, the client asks this server for a token, and the registry checks
 * the token's signature against the certificate in its `rootcertbundle`.
 *
 * Policy (fixed, so tests can see every case):
 *  - one test user with a password; with correct basic credentials it gets
 *    every action it asks for on any repository;
 *  - wrong credentials get 401;
 *  - anonymous requests get `pull` on the public repositories only. For any
 *    other scope the server either leaves it out of the token (what Docker
 *    Hub does: the registry then answers 401 insufficient_scope) or, with
 *    `anonymousDenied: 'unauthorized'`, answers 401 itself.
 *
 * Tokens are ES256 JWTs. The key and a self-signed certificate for it are
 * made with the openssl CLI (the files are removed at once; the key stays in memory); the header names the key either by `x5c` (the
 * certificate itself) or by `kid` (libtrust's key id of the public key), and
 * the registry trusts the certificate through its rootcertbundle either way.
 *
 * Every request is recorded (scopes, whether and which basic credentials
 * came) so tests can count token requests. Listens on 127.0.0.1 only.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryCredentials, RegistryTokenAuth } from './registry.js';

export interface TokenServerOptions {
  /** The test user (the only account). */
  credentials: RegistryCredentials;
  /** Repositories anonymous requests may pull. Default: none. */
  publicRepositories?: readonly string[];
  /** What an anonymous request for a scope it may not have gets; default 'empty-token'. */
  anonymousDenied?: 'empty-token' | 'unauthorized';
  /** The registry's service name (the token's `aud`); default `didactic-test`. */
  service?: string;
  /** The token's `iss`; default `didactic-test-issuer`. */
  issuer?: string;
  /** How the JWT header names the signing key; default 'x5c'. */
  keyHeader?: 'x5c' | 'kid';
  /** `expires_in` of each token; default 300. */
  expiresInSeconds?: number;
}

export interface GrantedAccess {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenRequest {
  /** The `scope` parameters, in order. */
  scopes: string[];
  service: string | undefined;
  /** The user named by basic credentials, when any came (right or wrong). */
  basicUser: string | undefined;
  /** Whether the credentials were the test user's. */
  authenticated: boolean;
  status: number;
  /** What the issued token grants (absent when no token was issued). */
  granted?: GrantedAccess[];
}

export interface TestTokenServer {
  /** `http://127.0.0.1:PORT/token`. */
  realm: string;
  service: string;
  issuer: string;
  /** The PEM certificate of the signing key (the registry's rootcertbundle). */
  certificatePem: string;
  /** libtrust's key id of the signing key. */
  keyId: string;
  /** Every request so far, oldest first. */
  requests: TokenRequest[];
  /** Every token handed out, so tests can check none is ever printed. */
  issuedTokens: string[];
  /** What startRegistry({ token }) needs to trust this server. */
  registryAuth(): RegistryTokenAuth;
  /** Closes the server. */
  stop(): Promise<void>;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * libtrust's key id, which distribution looks `kid` up by: sha256 of the DER
 * (SubjectPublicKeyInfo) public key, its first 240 bits in base32, in groups
 * of four characters joined by ':'.
 */
export function libtrustKeyId(publicKeyDer: Buffer): string {
  const encoded = base32(createHash('sha256').update(publicKeyDer).digest().subarray(0, 30));
  return encoded.match(/.{1,4}/g)!.join(':');
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Parses `repository:name:pull,push` (names may hold ':' only before the last one). */
export function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter((a) => a !== ''),
  };
}

function makeKeyAndCertificate(dir: string): { key: KeyObject; certificatePem: string } {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const result = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath,
      '-out', certPath, '-days', '2', '-subj', '/CN=didactic-test-token-signer'],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`openssl req failed: ${result.stderr || result.error}`);
  return { key: createPrivateKey(readFileSync(keyPath)), certificatePem: readFileSync(certPath, 'utf8') };
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const text = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export async function startTokenServer(options: TokenServerOptions): Promise<TestTokenServer> {
  const service = options.service ?? 'didactic-test';
  const issuer = options.issuer ?? 'didactic-test-issuer';
  const expiresIn = options.expiresInSeconds ?? 300;
  const publicRepos = new Set(options.publicRepositories ?? []);
  // The key lives in memory only; its files are gone before the server starts.
  const dir = mkdtempSync(join(tmpdir(), 'dctr-token-'));
  let key: KeyObject;
  let certificatePem: string;
  try {
    ({ key, certificatePem } = makeKeyAndCertificate(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const certificate = new X509Certificate(certificatePem);
  const keyId = libtrustKeyId(certificate.publicKey.export({ type: 'spki', format: 'der' }));
  const requests: TokenRequest[] = [];
  const issuedTokens: string[] = [];

  function issue(subject: string, access: GrantedAccess[]): string {
    const header =
      options.keyHeader === 'kid'
        ? { typ: 'JWT', alg: 'ES256', kid: keyId }
        : { typ: 'JWT', alg: 'ES256', x5c: [certificate.raw.toString('base64')] };
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      exp: now + expiresIn,
      nbf: now - 1,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    // JWS wants ECDSA signatures as r||s, not DER.
    const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${base64url(signature)}`;
  }

  function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/token') return answer(res, 404, { error: 'not found' });
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    const basic = parseBasic(req.headers.authorization);
    const authenticated =
      basic !== undefined && basic.user === options.credentials.user && basic.password === options.credentials.password;
    const record: TokenRequest = {
      scopes,
      service: url.searchParams.get('service') ?? undefined,
      basicUser: basic?.user,
      authenticated,
      status: 200,
    };
    requests.push(record);
    const refuse = (message: string): void => {
      record.status = 401;
      answer(res, 401, { errors: [{ code: 'UNAUTHORIZED', message }] }, { 'www-authenticate': 'Basic realm="didactic-test-token"' });
    };
    if (basic !== undefined && !authenticated) return refuse('invalid username or password');
    if (record.service !== service) {
      record.status = 400;
      return answer(res, 400, { errors: [{ code: 'INVALID', message: `unknown service` }] });
    }
    const granted: GrantedAccess[] = [];
    for (const scope of scopes) {
      const parsed = parseScope(scope);
      if (parsed === undefined) continue;
      let actions: string[];
      if (authenticated) actions = parsed.actions;
      else if (parsed.type === 'repository' && publicRepos.has(parsed.name)) actions = parsed.actions.filter((a) => a === 'pull');
      else actions = [];
      if (actions.length < parsed.actions.length && !authenticated && options.anonymousDenied === 'unauthorized') {
        return refuse(`anonymous access to ${scope} is not allowed`);
      }
      if (actions.length > 0) granted.push({ type: parsed.type, name: parsed.name, actions });
    }
    const token = issue(authenticated ? options.credentials.user : '', granted);
    record.granted = granted;
    issuedTokens.push(token);
    answer(res, 200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() });
  }

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (error) {
      answer(res, 500, { error: String(error) });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const realm = `http://127.0.0.1:${port}/token`;
  let stopped: Promise<void> | undefined;
  return {
    realm,
    service,
    issuer,
    certificatePem,
    keyId,
    requests,
    issuedTokens,
    registryAuth: () => ({ realm, service, issuer, rootCertificatePem: certificatePem }),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return stopped;
    },
  };
}
