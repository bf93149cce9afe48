/**
 * Registry authentication: parsing `WWW-Authenticate` challenges, the bearer
 * token flow (https://distribution.github.io/distribution/spec/auth/token/),
 * basic auth, and a token cache per registry and scope.
 *
 * Tokens and passwords live only in request headers: never in URLs, messages
 * or causes of errors.
 */
import { EngineError } from '../common/index.js';

export interface Challenge {
  /** Lower-case scheme: `bearer`, `basic`, ... */
  scheme: string;
  /** Lower-case parameter names -> values, quotes and escapes removed. */
  params: Record<string, string>;
}

export interface Credential {
  username: string;
  password: string;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * Parses one or more `WWW-Authenticate` header values into challenges
 * (RFC 7235): `Bearer realm="https://a/token",service="s",scope="repository:x:pull,push"`.
 * Quoted values may hold commas and backslash escapes; several challenges may
 * share one header. Unparseable tails are ignored.
 */
export function parseWwwAuthenticate(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  const out: Challenge[] = [];
  for (const value of values) parseOne(value, out);
  return out;
}

function parseOne(s: string, out: Challenge[]): void {
  let i = 0;
  const skipSpace = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string => {
    i++; // opening quote
    let value = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      value += s[i];
      i++;
    }
    i++; // closing quote
    return value;
  };

  while (i < s.length) {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
    const scheme = readToken();
    if (scheme === '') return;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      skipSpace();
      const save = i;
      const name = readToken();
      skipSpace();
      if (name === '' || s[i] !== '=') {
        // Not a parameter: the next challenge's scheme starts here (or garbage, which ends parsing).
        i = save;
        break;
      }
      i++; // '='
      skipSpace();
      const value = s[i] === '"' ? readQuoted() : readToken();
      challenge.params[name.toLowerCase()] = value;
      skipSpace();
      if (s[i] === ',') {
        i++;
        continue;
      }
      break;
    }
  }
}

export function basicAuthorization(credential: Credential): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64')}`;
}

/** The scope string to pull from a repository. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** Tokens kept until shortly before they expire, keyed by registry and scope. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  constructor(private readonly now: () => number = Date.now) {}

  private static key(registry: string, scope: string): string {
    return `${registry}\n${scope}`;
  }

  get(registry: string, scope: string): string | undefined {
    const key = TokenCache.key(registry, scope);
    const hit = this.tokens.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAt <= this.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(registry: string, scope: string, token: string, expiresInSeconds: number): void {
    // Renew a little early so a token does not expire between check and use.
    const lifetime = Math.max(1, expiresInSeconds - Math.min(30, expiresInSeconds / 10)) * 1000;
    this.tokens.set(TokenCache.key(registry, scope), { value: token, expiresAt: this.now() + lifetime });
  }

  delete(registry: string, scope: string): void {
    this.tokens.delete(TokenCache.key(registry, scope));
  }

  clear(registry?: string): void {
    if (registry === undefined) return this.tokens.clear();
    for (const key of [...this.tokens.keys()]) if (key.startsWith(`${registry}\n`)) this.tokens.delete(key);
  }
}

/** The distribution spec's default when a token answer gives no `expires_in`. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;

export interface TokenAnswer {
  token: string;
  expiresIn: number;
}

/** Reads a token server's JSON answer: `token` or `access_token`, and `expires_in`. */
export function parseTokenAnswer(body: string, context: string): TokenAnswer {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new EngineError('UNAVAILABLE', `${context}: the token server answered with something that is not JSON`);
  }
  const { token, access_token: accessToken, expires_in: expiresIn } = (doc ?? {}) as Record<string, unknown>;
  const value = typeof token === 'string' && token !== '' ? token : typeof accessToken === 'string' ? accessToken : '';
  if (value === '') throw new EngineError('UNAVAILABLE', `${context}: the token server's answer holds no token`);
  const seconds = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_TOKEN_LIFETIME_SECONDS;
  return { token: value, expiresIn: seconds };
}

/**
 * The URL to ask a token for: the realm with `service` and one `scope`
 * parameter per scope. The realm must be an http(s) URL.
 */
export function tokenUrl(challenge: Challenge, scopes: readonly string[], context: string): URL {
  const realm = challenge.params.realm;
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw new EngineError('UNAVAILABLE', `${context}: the registry's bearer challenge has no usable realm (${JSON.stringify(realm ?? '')})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new EngineError('UNAVAILABLE', `${context}: the registry's token realm is not an http(s) url`);
  }
  if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  return url;
}
