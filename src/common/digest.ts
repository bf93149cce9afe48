/** Digests as the OCI image spec writes them: `algorithm:hex`. Only sha256 is produced. */
import { lazyCrypto } from './lazy-crypto.js';
import { EngineError } from './errors.js';

export type Digest = `sha256:${string}`;

const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && SHA256_RE.test(value);
}

/** Validates a digest string; anything but a well-formed sha256 digest is refused. */
export function parseDigest(value: string, what = 'digest'): Digest {
  if (!isDigest(value)) {
    throw new EngineError('INVALID_ARGUMENT', `${what} ${JSON.stringify(value)} is not a sha256 digest`);
  }
  return value;
}

export function sha256Digest(data: Uint8Array | string): Digest {
  return `sha256:${lazyCrypto().createHash('sha256').update(data).digest('hex')}`;
}

/** The hex part of a digest, used for file names. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

/** Short form for people: the first 12 hex characters. */
export function shortDigest(digest: string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice(7) : digest;
  return hex.slice(0, 12);
}
