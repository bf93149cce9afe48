/** Container ids (64 hex), short ids (first 12) and the names Docker users expect. */
import { lazyCrypto } from './lazy-crypto.js';

export function newContainerId(): string {
  return lazyCrypto().randomBytes(32).toString('hex');
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Docker's rule for container names. */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name) && name.length <= 253;
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'gentle', 'keen', 'lucid', 'merry', 'nimble', 'quiet', 'sharp', 'tidy', 'witty'];
const NOUNS = ['clone', 'cgroup', 'chroot', 'inode', 'kernel', 'mount', 'overlay', 'pivot', 'seccomp', 'setns', 'socket', 'veth'];

/** A readable random name like Docker's, drawn from container vocabulary. */
export function randomName(): string {
  const bytes = lazyCrypto().randomBytes(3);
  const adjective = ADJECTIVES[bytes[0]! % ADJECTIVES.length]!;
  const noun = NOUNS[bytes[1]! % NOUNS.length]!;
  return `${adjective}_${noun}_${bytes[2]!.toString(16).padStart(2, '0')}`;
}
