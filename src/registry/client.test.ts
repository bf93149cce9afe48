/**
 * The registry client against small fault-injecting HTTP servers on loopback:
 * token and basic auth, error statuses, redirects, digests, ranges.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { isEngineError, type ErrorCode } from '../common/index.js';
// The file, not the index: image's index also carries the pull walk, which imports this module.
import { parseManifest } from '../image/manifest.js';
import { createRegistryClient, type RegistryClientOptions } from './client.js';
import { createFileCredentialStore, createMemoryCredentialStore } from './credentials.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, base: string) => void;

interface Server {
  host: string; // host:port
  base: string; // http://host:port
  requests: Array<{ url: string; authorization: string | undefined; range: string | undefined; accept: string | undefined }>;
}

async function serve(t: TestContext, handler: Handler, address = '127.0.0.1'): Promise<Server> {
  const server: Server = { host: '', base: '', requests: [] };
  const http1 = http.createServer((req, res) => {
    server.requests.push({
      url: req.url ?? '',
      authorization: req.headers.authorization,
      range: req.headers.range,
      accept: req.headers.accept,
    });
    handler(req, res, server.base);
  });
  await new Promise<void>((resolve) => http1.listen(0, address, resolve));
  const { port } = http1.address() as AddressInfo;
  server.host = `${address}:${port}`;
  server.base = `http://${server.host}`;
  t.after(() => new Promise<void>((resolve) => {
    http1.closeAllConnections();
    http1.close(() => resolve());
  }));
  return server;
}

function client(t: TestContext, options: RegistryClientOptions = {}) {
  const c = createRegistryClient(options);
  t.after(() => c.close());
  return c;
}

const MANIFEST = Buffer.from(JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:' + '1'.repeat(64), size: 2 },
  layers: [],
}));
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;
const BLOB = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100));
const BLOB_DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;

function sendManifest(res: http.ServerResponse, body: Buffer = MANIFEST, digest: string = MANIFEST_DIGEST): void {
  res.writeHead(200, {
    'content-type': 'application/vnd.oci.image.manifest.v1+json',
    'docker-content-digest': digest,
    'content-length': body.length,
  });
  res.end(body);
}

function registryError(res: http.ServerResponse, status: number, code: string, message: string, extra: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...extra });
  res.end(JSON.stringify({ errors: [{ code, message, detail: null }] }));
}

/** Sends the blob, honouring `Range: bytes=N-` when `ranges` is true. */
function sendBlob(req: http.IncomingMessage, res: http.ServerResponse, ranges = true): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m && ranges) {
    const start = Number(m[1]);
    if (start >= BLOB.length) {
      res.writeHead(416, { 'content-range': `bytes */${BLOB.length}` });
      res.end();
      return;
    }
    res.writeHead(206, { 'content-range': `bytes ${start}-${BLOB.length - 1}/${BLOB.length}`, 'content-length': BLOB.length - start });
    res.end(BLOB.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': BLOB.length, 'content-type': 'application/octet-stream' });
  res.end(BLOB);
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, pattern: RegExp, secrets: string[] = []): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isEngineError(e), `expected an EngineError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    const everything = JSON.stringify({ m: e.message, h: e.hint, c: String(e.cause), cc: JSON.stringify(e.cause) });
    for (const s of secrets) assert.ok(!everything.includes(s), `secret leaked into the error: ${e.message}`);
    return true;
  });
}

/** A registry behind a token server on the same host. */
function tokenRegistry(opts: { user?: string; pass?: string; expiresIn?: number }): Handler {
  let issued = 0;
  return (req, res, base) => {
    const url = new URL(req.url ?? '/', base);
    if (url.pathname === '/token') {
      if (opts.user !== undefined) {
        const want = `Basic ${Buffer.from(`${opts.user}:${opts.pass}`).toString('base64')}`;
        if (req.headers.authorization !== want) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end('{"details":"incorrect username or password"}');
          return;
        }
      }
      issued++;
      const scope = url.searchParams.get('scope');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: `tok-${issued}-${scope ?? 'none'}`, expires_in: opts.expiresIn ?? 300 }));
      return;
    }
    const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname)?.[1];
    const scope = repo === undefined ? '' : `repository:${repo}:pull`;
    const auth = req.headers.authorization ?? '';
    const ok = url.pathname === '/v2/' ? auth.startsWith('Bearer tok-') : auth.startsWith('Bearer tok-') && auth.endsWith(`-${scope}`);
    if (!ok) {
      const challenge = `Bearer realm="${base}/token",service="test-registry"${scope ? `,scope="${scope}"` : ''}`;
      registryError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': challenge });
      return;
    }
    if (url.pathname === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    } else if (url.pathname.includes('/manifests/')) sendManifest(res);
    else sendBlob(req, res);
  };
}

test('ping an open registry over plain http on loopback', async (t) => {
  const s = await serve(t, (_req, res) => {
    res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' });
    res.end('{}');
  });
  const result = await client(t).ping(s.host);
  assert.equal(result.authRequired, false);
  assert.equal(result.url, `${s.base}/v2/`);
});

test('bearer token flow: anonymous token, cached per scope', async (t) => {
  const s = await serve(t, tokenRegistry({}));
  const c = client(t);
  const ref = { registry: s.host, repository: 'lib/app', tag: 'v1' };
  const m = await c.getManifest(ref);
  assert.equal(m.digest, MANIFEST_DIGEST);
  assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.deepEqual(m.bytes, MANIFEST);
  const tokenRequests = s.requests.filter((r) => r.url.startsWith('/token'));
  assert.equal(tokenRequests.length, 1);
  const tokenUrl = new URL(tokenRequests[0]!.url, s.base);
  assert.equal(tokenUrl.searchParams.get('service'), 'test-registry');
  assert.deepEqual(tokenUrl.searchParams.getAll('scope'), ['repository:lib/app:pull']);
  assert.equal(tokenRequests[0]!.authorization, undefined, 'anonymous token request');
  const accept = s.requests.find((r) => r.url.includes('/manifests/'))!.accept ?? '';
  for (const type of ['oci.image.index.v1', 'oci.image.manifest.v1', 'manifest.list.v2', 'distribution.manifest.v2']) {
    assert.ok(accept.includes(type), `accept lists ${type}: ${accept}`);
  }

  const before = s.requests.length;
  await c.getManifest(ref);
  const blob = await c.fetchBlob(s.host, 'lib/app', BLOB_DIGEST);
  assert.deepEqual(await readAll(blob.body), BLOB);
  const after = s.requests.slice(before);
  assert.equal(after.filter((r) => r.url.startsWith('/token')).length, 0, 'token reused from the cache');
  assert.equal(after.length, 2, 'no 401 round trip once the token is known');

  // Another repository needs another scope: one more token, asked for up front.
  const before2 = s.requests.length;
  await c.getManifest({ registry: s.host, repository: 'other', tag: 'x' });
  const more = s.requests.slice(before2).map((r) => r.url.split('?')[0]);
  assert.deepEqual(more, ['/token', '/v2/other/manifests/x']);
});

test('bearer token flow with stored credentials', async (t) => {
  const s = await serve(t, tokenRegistry({ user: 'alice', pass: 's3cret-pw' }));
  const ref = { registry: s.host, repository: 'private/app', tag: 'v1' };
  await rejectsWith(client(t).getManifest(ref), 'PERMISSION_DENIED', /pull 127\.0\.0\.1:\d+\/private\/app:v1: the token server refused an anonymous token/);
  const wrong = client(t, { credentials: createMemoryCredentialStore({ [s.host]: { username: 'alice', password: 'wrong-pw' } }) });
  await rejectsWith(wrong.getManifest(ref), 'PERMISSION_DENIED', /refused the stored credentials/, ['wrong-pw', Buffer.from('alice:wrong-pw').toString('base64')]);
  const right = client(t, { credentials: createMemoryCredentialStore({ [s.host]: { username: 'alice', password: 's3cret-pw' } }) });
  assert.equal((await right.getManifest(ref)).digest, MANIFEST_DIGEST);
  const tokenReq = s.requests.filter((r) => r.url.startsWith('/token')).at(-1)!;
  assert.equal(tokenReq.authorization, `Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`);
});

test('an anonymous token without the scope: authentication required, not failed', async (t) => {
  // Like Docker Hub for a private repository: the token server hands out a token
  // granting nothing, and the registry refuses it.
  const s = await serve(t, (req, res, base) => {
    if (req.url?.startsWith('/token')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: 'tok-grants-nothing', expires_in: 300 }));
      return;
    }
    const challenge = `Bearer realm="${base}/token",service="test-registry",scope="repository:private/app:pull",error="insufficient_scope"`;
    registryError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': challenge });
  });
  const ref = { registry: s.host, repository: 'private/app', tag: 'v1' };
  await rejectsWith(client(t).getManifest(ref), 'PERMISSION_DENIED', /pull 127\.0\.0\.1:\d+\/private\/app:v1: authentication required/, ['tok-grants-nothing']);
  await assert.rejects(client(t).getManifest(ref), (e: unknown) => {
    assert.ok(isEngineError(e));
    assert.doesNotMatch(e.message, /authentication failed/);
    assert.match(e.hint ?? '', /login/);
    return true;
  });
  assert.equal(s.requests.filter((r) => r.url.startsWith('/token')).length, 2, 'one token per client');
});

test('expired tokens are fetched again', async (t) => {
  const s = await serve(t, tokenRegistry({ expiresIn: 1 }));
  const c = client(t);
  const ref = { registry: s.host, repository: 'a', tag: 'b' };
  await c.getManifest(ref);
  await new Promise((r) => setTimeout(r, 1100));
  await c.getManifest(ref);
  assert.equal(s.requests.filter((r) => r.url.startsWith('/token')).length, 2);
});

test('basic auth', async (t) => {
  const good = `Basic ${Buffer.from('bob:hunter2').toString('base64')}`;
  const s = await serve(t, (req, res) => {
    if (req.headers.authorization !== good) {
      registryError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': 'Basic realm="Registry Realm"' });
      return;
    }
    if (req.url === '/v2/') {
      res.writeHead(200);
      res.end('{}');
    } else sendManifest(res);
  });
  const ref = { registry: s.host, repository: 'x', tag: 'latest' };
  await rejectsWith(client(t).getManifest(ref), 'PERMISSION_DENIED', /pull 127\.0\.0\.1:\d+\/x:latest: authentication required/);
  const bad = client(t, { credentials: createMemoryCredentialStore({ [s.host]: { username: 'bob', password: 'nope-nope' } }) });
  await rejectsWith(bad.getManifest(ref), 'PERMISSION_DENIED', /authentication failed/, ['nope-nope', Buffer.from('bob:nope-nope').toString('base64')]);
  const ok = client(t, { credentials: createMemoryCredentialStore({ [s.host]: { username: 'bob', password: 'hunter2' } }) });
  assert.equal((await ok.getManifest(ref)).digest, MANIFEST_DIGEST);
  const n = s.requests.length;
  await ok.getManifest(ref);
  assert.equal(s.requests.length, n + 1, 'basic credentials sent up front once the challenge is known');
});

test('login verifies credentials, stores them 0600, logout removes them', async (t) => {
  const s = await serve(t, tokenRegistry({ user: 'carol', pass: 'pa55word' }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-auth-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sub', 'auth.json');
  const store = createFileCredentialStore({ path: file });
  const c = client(t, { credentials: store });
  await rejectsWith(c.login(s.host, 'carol', 'wrong'), 'PERMISSION_DENIED', /login 127\.0\.0\.1:\d+: invalid username or password/, ['wrong']);
  assert.equal(fs.existsSync(file), false, 'nothing stored after a failed login');
  await c.login(s.host, 'carol', 'pa55word');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(doc, { auths: { [s.host]: { auth: Buffer.from('carol:pa55word').toString('base64') } } });
  assert.deepEqual(await store.get(s.host), { username: 'carol', password: 'pa55word' });
  assert.equal((await c.getManifest({ registry: s.host, repository: 'p', tag: 't' })).digest, MANIFEST_DIGEST);
  assert.equal(await c.logout(s.host), true);
  assert.equal(await c.logout(s.host), false);
  assert.equal(await store.get(s.host), undefined);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['auth.json'], 'no temp files left');
});

test('error statuses map to clear errors', async (t) => {
  const s = await serve(t, (req, res) => {
    const url = req.url ?? '';
    if (url.includes('/e500/')) {
      res.writeHead(500);
      res.end('boom');
    } else if (url.includes('/e503/')) registryError(res, 503, 'UNAVAILABLE', 'Service Unavailable');
    else if (url.includes('/e429/')) registryError(res, 429, 'TOOMANYREQUESTS', 'You have reached your pull rate limit', { 'retry-after': '17' });
    else if (url.includes('/e404/')) registryError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    else if (url.includes('/name/')) registryError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    else if (url.includes('/blobs/')) registryError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    else if (url.includes('/e403/')) registryError(res, 403, 'DENIED', 'requested access to the resource is denied');
    else {
      res.writeHead(418);
      res.end();
    }
  });
  const c = client(t);
  const ref = (repository: string) => ({ registry: s.host, repository, tag: 't' });
  await rejectsWith(c.getManifest(ref('e500')), 'UNAVAILABLE', /pull 127\.0\.0\.1:\d+\/e500:t: registry error 500$/);
  await rejectsWith(c.getManifest(ref('e503')), 'UNAVAILABLE', /registry error 503 \(service Unavailable\)/);
  await assert.rejects(c.getManifest(ref('e429')), (e: unknown) => {
    assert.ok(isEngineError(e, 'UNAVAILABLE'));
    assert.match(e.message, /rate limited/);
    assert.match(e.hint ?? '', /17 seconds/);
    return true;
  });
  await rejectsWith(c.getManifest(ref('e404')), 'NOT_FOUND', /pull 127\.0\.0\.1:\d+\/e404:t: manifest unknown$/);
  await rejectsWith(c.getManifest(ref('name')), 'NOT_FOUND', /repository name not known to registry/);
  await rejectsWith(c.getManifest(ref('e403')), 'PERMISSION_DENIED', /access denied \(requested access/);
  await rejectsWith(c.fetchBlob(s.host, 'x', BLOB_DIGEST), 'NOT_FOUND', /fetch blob sha256:[0-9a-f]{12} from 127\.0\.0\.1:\d+\/x: blob unknown to registry/);
  await rejectsWith(c.getManifest(ref('teapot')), 'UNAVAILABLE', /unexpected answer 418/);
});

test('an unreachable registry', async (t) => {
  const s = await serve(t, () => {});
  const port = s.host.split(':')[1];
  // Close nothing: use a port next to it that nobody listens on.
  const dead = `127.0.0.1:${Number(port) === 65535 ? 1 : Number(port) + 1}`;
  await rejectsWith(client(t).ping(dead), 'UNAVAILABLE', /ping registry 127\.0\.0\.1:\d+: registry 127\.0\.0\.1:\d+ unreachable \(econnrefused\)/);
});

test('blob redirects go to another host without Authorization', async (t) => {
  const cdn = await serve(t, (req, res) => sendBlob(req, res), '127.0.0.2');
  const s = await serve(t, (req, res, base) => {
    const handled = tokenRegistry({});
    if (req.url?.includes('/blobs/') && req.headers.authorization?.startsWith('Bearer ')) {
      res.writeHead(307, { location: `${cdn.base}/signed/blob?sig=abc` });
      res.end();
      return;
    }
    handled(req, res, base);
  });
  const c = client(t);
  const blob = await c.fetchBlob(s.host, 'lib/app', BLOB_DIGEST);
  assert.equal(blob.status, 200);
  assert.equal(blob.totalSize, BLOB.length);
  assert.deepEqual(await readAll(blob.body), BLOB);
  assert.equal(cdn.requests.length, 1);
  assert.equal(cdn.requests[0]!.url, '/signed/blob?sig=abc');
  assert.equal(cdn.requests[0]!.authorization, undefined, 'Authorization must not go to another host');
  assert.ok(s.requests.some((r) => r.url.includes('/blobs/') && r.authorization?.startsWith('Bearer ')), 'the registry itself got the token');

  // A ranged request keeps its Range across the redirect.
  const part = await c.fetchBlob(s.host, 'lib/app', BLOB_DIGEST, { offset: 1000 });
  assert.equal(part.status, 206);
  assert.deepEqual(await readAll(part.body), BLOB.subarray(1000));
  assert.equal(cdn.requests[1]!.range, 'bytes=1000-');
});

test('redirect loops and long chains are refused', async (t) => {
  const s = await serve(t, (req, res) => {
    const url = req.url ?? '';
    const hop = /\/hop\/(\d+)$/.exec(url);
    if (url.includes('/loop/blobs/')) res.writeHead(302, { location: '/a' });
    else if (url === '/a') res.writeHead(302, { location: '/b' });
    else if (url === '/b') res.writeHead(302, { location: '/a' });
    else if (url.includes('/far/blobs/')) res.writeHead(302, { location: '/hop/1' });
    else if (hop) res.writeHead(302, { location: `/hop/${Number(hop[1]) + 1}` });
    else if (url.includes('/nowhere/blobs/')) res.writeHead(302);
    else res.writeHead(404);
    res.end();
  });
  const c = client(t);
  await rejectsWith(c.fetchBlob(s.host, 'loop', BLOB_DIGEST), 'UNAVAILABLE', /redirect loop/);
  await rejectsWith(c.fetchBlob(s.host, 'far', BLOB_DIGEST), 'UNAVAILABLE', /too many redirects/);
  await rejectsWith(c.fetchBlob(s.host, 'nowhere', BLOB_DIGEST), 'UNAVAILABLE', /without a location/);
  assert.ok(s.requests.filter((r) => r.url.startsWith('/hop/')).length <= 5);
});

test('manifest digests are verified', async (t) => {
  const other = Buffer.from(MANIFEST.toString().replace('"layers":[]', '"layers": []'));
  const s = await serve(t, (req, res) => {
    const url = req.url ?? '';
    if (url.includes('/liar/')) sendManifest(res, MANIFEST, 'sha256:' + 'f'.repeat(64));
    else if (url.includes('/swapped/')) sendManifest(res, other, `sha256:${createHash('sha256').update(other).digest('hex')}`);
    else if (url.includes('/garbage/')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.end('<html><body>proxy error</body></html>');
    } else if (url.includes('/huge/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
    } else if (url.includes('/nodigest/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(MANIFEST);
    } else sendManifest(res);
  });
  const c = client(t);
  await rejectsWith(c.getManifest({ registry: s.host, repository: 'liar', tag: 't' }), 'INTEGRITY', /registry says the manifest is sha256:f{64} but its content is sha256:/);
  await rejectsWith(c.getManifest({ registry: s.host, repository: 'swapped', digest: MANIFEST_DIGEST }), 'INTEGRITY', /sent a manifest whose digest is sha256:/);
  assert.equal((await c.getManifest({ registry: s.host, repository: 'good', digest: MANIFEST_DIGEST })).digest, MANIFEST_DIGEST);
  assert.ok(s.requests.some((r) => r.url === `/v2/good/manifests/${MANIFEST_DIGEST}`));
  const nod = await c.getManifest({ registry: s.host, repository: 'nodigest', tag: 't' });
  assert.equal(nod.digest, MANIFEST_DIGEST, 'computed when the header is missing');
  assert.equal(parseManifest(nod.bytes, nod.mediaType).kind, 'manifest', 'generic content type falls back to the document');
  const garbage = await c.getManifest({ registry: s.host, repository: 'garbage', tag: 't' });
  assert.throws(() => parseManifest(garbage.bytes, garbage.mediaType), (e: unknown) => isEngineError(e, 'INTEGRITY') && /not valid JSON/.test(e.message));
  await rejectsWith(c.getManifest({ registry: s.host, repository: 'huge', tag: 't' }), 'INTEGRITY', /larger than 4194304 bytes/);
});

test('blob ranges: 206 resumes, 200 restarts, 416 restarts', async (t) => {
  const s = await serve(t, (req, res) => {
    const url = req.url ?? '';
    if (url.includes('/noranges/')) sendBlob(req, res, false);
    else if (url.includes('/wrongrange/') && req.headers.range) {
      res.writeHead(206, { 'content-range': `bytes 5-${BLOB.length - 1}/${BLOB.length}` });
      res.end(BLOB.subarray(5));
    } else sendBlob(req, res);
  });
  const c = client(t);
  const resumed = await c.fetchBlob(s.host, 'ranges', BLOB_DIGEST, { offset: 1234 });
  assert.deepEqual([resumed.status, resumed.offset, resumed.totalSize], [206, 1234, BLOB.length]);
  assert.deepEqual(await readAll(resumed.body), BLOB.subarray(1234));
  assert.equal(s.requests.at(-1)!.range, 'bytes=1234-');

  const whole = await c.fetchBlob(s.host, 'noranges', BLOB_DIGEST, { offset: 1234 });
  assert.deepEqual([whole.status, whole.offset, whole.totalSize], [200, 0, BLOB.length]);
  assert.deepEqual(await readAll(whole.body), BLOB);

  const past = await c.fetchBlob(s.host, 'ranges', BLOB_DIGEST, { offset: BLOB.length + 10 });
  assert.deepEqual([past.status, past.offset], [200, 0]);
  assert.deepEqual(await readAll(past.body), BLOB);
  assert.equal(s.requests.at(-1)!.range, undefined, 'asked again without a range');

  const odd = await c.fetchBlob(s.host, 'wrongrange', BLOB_DIGEST, { offset: 100 });
  assert.deepEqual([odd.status, odd.offset], [200, 0]);
  assert.deepEqual(await readAll(odd.body), BLOB);

  const fromZero = await c.fetchBlob(s.host, 'ranges', BLOB_DIGEST);
  assert.equal(fromZero.status, 200);
  assert.equal(s.requests.at(-1)!.range, undefined);
  fromZero.body.destroy();

  await rejectsWith(c.fetchBlob(s.host, 'ranges', 'sha256:nope'), 'INVALID_ARGUMENT', /not a sha256 digest/);
  await rejectsWith(c.fetchBlob(s.host, 'ranges', BLOB_DIGEST, { offset: -1 }), 'INVALID_ARGUMENT', /offset -1/);
});

test('a dropped connection mid-body surfaces as a stream error, and abort works', async (t) => {
  const s = await serve(t, (req, res) => {
    if (req.url?.includes('/slow/')) {
      res.writeHead(200, { 'content-length': BLOB.length });
      res.write(BLOB.subarray(0, 10));
      return; // never finishes
    }
    res.writeHead(200, { 'content-length': BLOB.length });
    res.write(BLOB.subarray(0, 100));
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const c = client(t);
  const blob = await c.fetchBlob(s.host, 'cut', BLOB_DIGEST);
  await rejectsWith(readAll(blob.body), 'UNAVAILABLE', /fetch blob sha256:[0-9a-f]{12} from 127\.0\.0\.1:\d+\/cut: the (connection was lost|body is shorter than announced) while reading from registry 127\.0\.0\.1:\d+/);
  // Destroying a body nobody listens to does not crash the process.
  const dropped = await c.fetchBlob(s.host, 'slow', BLOB_DIGEST);
  dropped.body.destroy();
  await new Promise((r) => setTimeout(r, 20));
  const controller = new AbortController();
  const slow = await c.fetchBlob(s.host, 'slow', BLOB_DIGEST, { signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(readAll(slow.body), (e: unknown) => (e as Error).name === 'AbortError');
});
