/** Container ids (64 hex), short ids (first 12) and the names Docker users expect. */
import fs from 'node:fs';
import { lazyCrypto } from './lazy-crypto.js';

/**
 * Random bytes from the kernel. /dev/urandom costs three system calls; loading
 * node:crypto for its randomBytes costs a short command (run) 5 to 8 ms.
 */
function randomBytes(count: number): Buffer {
  const out = Buffer.alloc(count);
  let fd: number | undefined;
  try {
    fd = fs.openSync('/dev/urandom', 'r');
    for (let done = 0; done < count; ) {
      const got = fs.readSync(fd, out, done, count - done, null);
      if (got <= 0) throw new Error('short read');
      done += got;
    }
    return out;
  } catch {
    // No /dev/urandom (a very bare chroot): the library's generator.
    return lazyCrypto().randomBytes(count);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
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
  const bytes = randomBytes(3);
  const adjective = ADJECTIVES[bytes[0]! % ADJECTIVES.length]!;
  const noun = NOUNS[bytes[1]! % NOUNS.length]!;
  return `${adjective}_${noun}_${bytes[2]!.toString(16).padStart(2, '0')}`;
}
