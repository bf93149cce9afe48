/**
 * A small fault-injecting registry for tests: a node:http server on
 * 127.0.0.1 that answers the distribution API from a real registry (the
 * upstream, usually the shared docker-registry) and misbehaves on request.
 *
 * Manifests are proxied as they come (Accept in, Content-Type and
 * Docker-Content-Digest out). Blobs are fetched whole from the upstream once,
 * kept in memory and served here, with `Range: bytes=N-` honoured (206), so
 * that faults can cut, slow or corrupt them byte-exactly.
 *
 * Faults, each aimed at requests by kind ('ping', 'manifest', 'blob') or by
 * digest, optionally only the first `times` matching requests:
 *   status        answer with that status and a registry error body
 *   truncate      a complete 200 answer whose body is shorter than the blob
 *   wrong-digest  the blob's bytes with one byte changed (same length)
 *   slow          the body throttled to bytesPerSecond
 *   stall         send afterBytes, then nothing until the client gives up
 *   redirect-loop 307 to /loop/a, which sends to /loop/b, which sends back
 *   drop          send afterBytes, then destroy the connection
 *   garbage       a 200 answer of HTML instead of the manifest or blob
 *
 * Every request is recorded (path, Range header, status, bytes sent).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  | { kind: 'truncate'; keepBytes?: number }
  | { kind: 'wrong-digest' }
  | { kind: 'slow'; bytesPerSecond: number }
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'redirect-loop' }
  | { kind: 'drop'; afterBytes: number }
  | { kind: 'garbage' };

export interface FaultRule {
  /** Which requests: by kind, or a digest (a blob, or a manifest asked for by digest). */
  match: 'ping' | 'manifest' | 'blob' | `sha256:${string}`;
  fault: Fault;
  /** Only the first `times` matching requests misbehave; default every one. */
  times?: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  kind: 'ping' | 'manifest' | 'blob' | 'other';
  /** The digest of a blob request (or of a manifest asked for by digest). */
  digest?: string;
  range?: string;
  status: number;
  /** Body bytes written to the socket. */
  bytesSent: number;
  fault?: Fault['kind'];
}

export interface FaultRegistry {
  /** `127.0.0.1:PORT`, the registry part of an image ref. */
  host: string;
  url: string;
  /** Replaces the fault rules (an empty list serves everything faithfully). */
  setFaults(rules: FaultRule[]): void;
  /** Everything asked so far, in order. */
  readonly requests: RequestRecord[];
  /** Body bytes sent for one blob over all requests. */
  bytesSent(digest: string): number;
  /** Forgets the recorded requests. */
  clearRequests(): void;
  /** Closes the server and every open connection. */
  close(): Promise<void>;
}

interface Counted {
  rule: FaultRule;
  used: number;
}

const CHUNK = 64 * 1024;

function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

/** Starts the fault registry in front of `upstream` (`127.0.0.1:PORT` of a real registry). */
export async function startFaultRegistry(upstream: string): Promise<FaultRegistry> {
  let rules: Counted[] = [];
  const requests: RequestRecord[] = [];
  const blobs = new Map<string, Promise<{ bytes: Buffer } | { status: number }>>();
  const sockets = new Set<Socket>();

  const fetchUpstreamBlob = (path: string, digest: string) => {
    let entry = blobs.get(digest);
    if (entry === undefined) {
      entry = (async () => {
        const response = await fetch(`http://${upstream}${path}`);
        const bytes = Buffer.from(await response.arrayBuffer());
        if (response.status !== 200) return { status: response.status };
        return { bytes };
      })();
      blobs.set(digest, entry);
      // A failed answer is not kept: the upstream may have it later.
      entry.then((value) => 'status' in value && blobs.delete(digest)).catch(() => blobs.delete(digest));
    }
    return entry;
  };

  const pick = (kind: RequestRecord['kind'], digest: string | undefined): Fault | undefined => {
    for (const counted of rules) {
      const { rule } = counted;
      const hit = rule.match === kind || (digest !== undefined && rule.match === digest);
      if (!hit) continue;
      if (rule.times !== undefined && counted.used >= rule.times) continue;
      counted.used++;
      return rule.fault;
    }
    return undefined;
  };

  /** Writes body bytes, throttled or cut as the fault says; resolves when done or the client left. */
  async function sendBody(res: http.ServerResponse, record: RequestRecord, body: Buffer, fault: Fault | undefined): Promise<void> {
    let closed = false;
    res.once('close', () => (closed = true));
    const write = async (chunk: Buffer) => {
      record.bytesSent += chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    };
    if (fault?.kind === 'slow') {
      const step = Math.max(1024, Math.min(CHUNK, Math.floor(fault.bytesPerSecond / 10)));
      const delay = (step / fault.bytesPerSecond) * 1000;
      for (let at = 0; at < body.length && !closed; at += step) {
        await write(body.subarray(at, at + step));
        await sleep(delay);
      }
      if (!closed) res.end();
      return;
    }
    if (fault?.kind === 'stall' || fault?.kind === 'drop') {
      const upTo = Math.min(fault.afterBytes, body.length);
      for (let at = 0; at < upTo && !closed; at += CHUNK) await write(body.subarray(at, Math.min(at + CHUNK, upTo)));
      if (fault.kind === 'drop') {
        // Give the bytes a moment to leave, then cut the connection mid-body.
        await sleep(50);
        res.socket?.destroy();
        return;
      }
      // Stalled: the connection stays open and silent until the client hangs up.
      await new Promise<void>((resolve) => (closed ? resolve() : res.once('close', () => resolve())));
      return;
    }
    for (let at = 0; at < body.length && !closed; at += CHUNK) await write(body.subarray(at, at + CHUNK));
    if (!closed) res.end();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fault');
    const path = url.pathname;
    const blobMatch = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path);
    const manifestMatch = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    const kind: RequestRecord['kind'] = path === '/v2/' || path === '/v2' ? 'ping' : blobMatch ? 'blob' : manifestMatch ? 'manifest' : 'other';
    const digest = blobMatch?.[2] ?? (manifestMatch?.[2]?.startsWith('sha256:') ? manifestMatch[2] : undefined);
    const record: RequestRecord = { method: req.method ?? 'GET', path, kind, status: 0, bytesSent: 0 };
    if (digest !== undefined) record.digest = digest;
    if (typeof req.headers.range === 'string') record.range = req.headers.range;
    requests.push(record);

    if (path.startsWith('/loop/')) {
      // The other half of a redirect loop.
      record.status = 307;
      res.writeHead(307, { location: path === '/loop/a' ? '/loop/b' : '/loop/a', 'content-length': '0' });
      res.end();
      return;
    }
    const fault = kind === 'other' ? undefined : pick(kind, digest);
    if (fault !== undefined) record.fault = fault.kind;

    if (fault?.kind === 'status') {
      record.status = fault.status;
      const code = fault.status >= 500 ? 'UNKNOWN' : fault.status === 429 ? 'TOOMANYREQUESTS' : fault.status === 404 ? 'MANIFEST_UNKNOWN' : fault.status === 401 ? 'UNAUTHORIZED' : 'DENIED';
      const body = errorBody(code, `injected status ${fault.status}`);
      res.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...fault.headers });
      res.end(body);
      return;
    }
    if (fault?.kind === 'redirect-loop') {
      record.status = 307;
      res.writeHead(307, { location: '/loop/a', 'content-length': '0' });
      res.end();
      return;
    }

    if (fault?.kind === 'garbage') {
      record.status = 200;
      const body = Buffer.from('<html><body>Welcome to nginx!</body></html>\n');
      record.bytesSent = body.length;
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length });
      res.end(body);
      return;
    }

    if (kind === 'ping') {
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0', 'content-length': '2' });
      res.end('{}');
      return;
    }

    if (kind === 'manifest') {
      const headers: Record<string, string> = {};
      if (typeof req.headers.accept === 'string') headers.accept = req.headers.accept;
      const response = await fetch(`http://${upstream}${path}`, { headers, method: req.method === 'HEAD' ? 'HEAD' : 'GET' });
      let body = Buffer.from(await response.arrayBuffer());
      if (fault?.kind === 'wrong-digest' && body.length > 0) {
        // Same claimed digest, different bytes: add a space inside the JSON.
        body = Buffer.concat([body.subarray(0, body.length - 1), Buffer.from(' '), body.subarray(body.length - 1)]);
      }
      const out: Record<string, string | number> = { 'content-length': body.length };
      for (const name of ['content-type', 'docker-content-digest', 'docker-distribution-api-version']) {
        const value = response.headers.get(name);
        if (value !== null) out[name] = value;
      }
      record.status = response.status;
      res.writeHead(response.status, out);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await sendBody(res, record, body, fault?.kind === 'truncate' ? undefined : fault);
      return;
    }

    if (kind === 'blob' && blobMatch) {
      const found = await fetchUpstreamBlob(path, blobMatch[2]!);
      if ('status' in found) {
        record.status = found.status;
        const body = errorBody('BLOB_UNKNOWN', 'blob unknown to registry');
        res.writeHead(found.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      let bytes = found.bytes;
      if (fault?.kind === 'wrong-digest') {
        bytes = Buffer.from(bytes);
        const at = Math.floor(bytes.length / 2);
        bytes[at] = bytes[at]! ^ 0xff;
      }
      let start = 0;
      const range = /^bytes=(\d+)-$/.exec(record.range ?? '');
      if (range !== null && Number(range[1]) < bytes.length) start = Number(range[1]);
      let body = bytes.subarray(start);
      if (fault?.kind === 'truncate') body = body.subarray(0, fault.keepBytes ?? Math.floor(body.length / 2));
      const headers: Record<string, string | number> = {
        'content-type': 'application/octet-stream',
        'docker-content-digest': blobMatch[2]!,
        'accept-ranges': 'bytes',
        // A stalled or dropped body still announces its full length, as a real server would.
        'content-length': body.length,
      };
      if (start > 0) headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
      record.status = start > 0 ? 206 : 200;
      res.writeHead(record.status, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await sendBody(res, record, body, fault);
      return;
    }

    record.status = 404;
    const body = errorBody('NAME_UNKNOWN', 'not served by the fault registry');
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault registry: ${error instanceof Error ? error.message : String(error)}`);
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const host = `127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;

  return {
    host,
    url: `http://${host}`,
    setFaults(next) {
      rules = next.map((rule) => ({ rule, used: 0 }));
    },
    requests,
    bytesSent(digest) {
      return requests.filter((r) => r.kind === 'blob' && r.digest === digest).reduce((sum, r) => sum + r.bytesSent, 0);
    },
    clearRequests() {
      requests.length = 0;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
