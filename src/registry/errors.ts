/**
 * Registry failures -> EngineError, in one place. `context` is the operation
 * and object the message starts with ("pull busybox:latest").
 */
import { EngineError } from '../common/index.js';

export interface RegistryErrorDetail {
  code: string;
  message?: string;
}

/** Reads the distribution spec's `{errors:[{code,message,detail}]}` body; anything else gives []. */
export function parseRegistryErrors(body: string): RegistryErrorDetail[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return [];
  }
  if (typeof doc !== 'object' || doc === null) return [];
  const errors = (doc as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  const out: RegistryErrorDetail[] = [];
  for (const e of errors) {
    if (typeof e !== 'object' || e === null) continue;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code !== 'string') continue;
    out.push(typeof message === 'string' ? { code, message: clean(message) } : { code });
  }
  return out;
}

/** Registry text goes into our messages: keep it short, printable and lowercase-first. */
function clean(text: string): string {
  const flat = text.replace(/[^\x20-\x7e]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
  return flat.charAt(0).toLowerCase() + flat.slice(1);
}

function describeDetails(details: RegistryErrorDetail[]): string | undefined {
  if (details.length === 0) return undefined;
  return details.map((d) => d.message ?? d.code.toLowerCase().replace(/_/g, ' ')).join('; ');
}

const NOT_FOUND_CODES = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'BLOB_UNKNOWN', 'NOT_FOUND']);

export interface HttpFailure {
  status: number;
  body: string;
  /** Seconds from Retry-After, when the registry sent one. */
  retryAfter?: string | undefined;
  /** Whether credentials (a token or basic auth) were sent. */
  authenticated?: boolean;
}

/** Maps an unsuccessful HTTP answer to an EngineError. */
export function errorForStatus(context: string, failure: HttpFailure): EngineError {
  const { status } = failure;
  const details = parseRegistryErrors(failure.body);
  const said = describeDetails(details);
  const codes = new Set(details.map((d) => d.code));
  const cause = { status, registryErrors: details };

  if (status === 404 || [...codes].some((c) => NOT_FOUND_CODES.has(c))) {
    return new EngineError('NOT_FOUND', `${context}: ${said ?? 'not found'}`, { cause });
  }
  if (status === 401) {
    return new EngineError('PERMISSION_DENIED', `${context}: ${failure.authenticated ? 'authentication failed' : 'authentication required'}${said ? ` (${said})` : ''}`, {
      cause,
      hint: failure.authenticated
        ? 'check the credentials stored by login'
        : 'the repository may not exist, or it may need a login first',
    });
  }
  if (status === 403 || codes.has('DENIED')) {
    return new EngineError('PERMISSION_DENIED', `${context}: access denied${said ? ` (${said})` : ''}`, { cause });
  }
  if (status === 429 || codes.has('TOOMANYREQUESTS')) {
    return new EngineError('UNAVAILABLE', `${context}: rate limited by the registry${said ? ` (${said})` : ''}`, {
      cause,
      hint: failure.retryAfter ? `try again in ${failure.retryAfter} seconds` : 'try again later, or log in for a higher limit',
    });
  }
  if (status >= 500) {
    return new EngineError('UNAVAILABLE', `${context}: registry error ${status}${said ? ` (${said})` : ''}`, { cause });
  }
  if (status === 400 && (codes.has('MANIFEST_INVALID') || codes.has('NAME_INVALID') || codes.has('DIGEST_INVALID'))) {
    return new EngineError('INVALID_ARGUMENT', `${context}: ${said}`, { cause });
  }
  return new EngineError('UNAVAILABLE', `${context}: unexpected answer ${status} from the registry${said ? ` (${said})` : ''}`, { cause });
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let i = 0; i < 4 && typeof current === 'object' && current !== null; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True for TLS failures: a bad certificate or a server that does not speak TLS. */
export function isTlsError(error: unknown): boolean {
  const code = errorCode(error) ?? '';
  return /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME|ALTNAME/.test(code) ||
    (error instanceof Error && /wrong version number|certificate/i.test(error.message));
}

export function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null &&
    ((error as { name?: unknown }).name === 'AbortError' || errorCode(error) === 'ABORT_ERR' || errorCode(error) === 'UND_ERR_ABORTED');
}

const connectionFailures = new WeakSet<EngineError>();

/** True for errors made by errorForConnection: the registry could not be reached or spoken to. */
export function isConnectionFailure(error: unknown): boolean {
  return error instanceof EngineError && connectionFailures.has(error);
}

/** Maps a failure to connect or to read an answer. Abort errors are not passed here. */
export function errorForConnection(context: string, host: string, error: unknown): EngineError {
  const mapped = mapConnectionError(context, host, error);
  connectionFailures.add(mapped);
  return mapped;
}

function mapConnectionError(context: string, host: string, error: unknown): EngineError {
  const code = errorCode(error);
  if (isTlsError(error)) {
    return new EngineError('UNAVAILABLE', `${context}: registry ${host} failed the TLS handshake (${code ?? 'tls error'})`, {
      cause: error,
      hint: `if ${host} is a registry you trust without TLS, name it with --insecure-registry`,
    });
  }
  const why = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'name not found' : code !== undefined && UNREACHABLE_CODES.has(code) ? code.toLowerCase() : code ?? 'connection failed';
  return new EngineError('UNAVAILABLE', `${context}: registry ${host} unreachable (${why})`, { cause: error });
}

/** Maps a failure while reading a body that had started: a dropped connection, a timeout, a short body. */
export function errorForBrokenBody(context: string, host: string, error: unknown): EngineError {
  const code = errorCode(error);
  const why = code === 'UND_ERR_BODY_TIMEOUT' ? 'the registry stopped sending' : code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' ? 'the body is shorter than announced' : 'the connection was lost';
  return new EngineError('UNAVAILABLE', `${context}: ${why} while reading from registry ${host} (${(code ?? 'error').toLowerCase()})`, { cause: error });
}
