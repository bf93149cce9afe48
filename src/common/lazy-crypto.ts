/**
 * node:crypto, loaded on first use. Importing it costs several milliseconds
 * of start-up, and most CLI invocations (version, ps, images) never hash.
 */
import { createRequire } from 'node:module';

type Crypto = typeof import('node:crypto');

let crypto: Crypto | undefined;

export function lazyCrypto(): Crypto {
  crypto ??= createRequire(import.meta.url)('node:crypto') as Crypto;
  return crypto;
}
