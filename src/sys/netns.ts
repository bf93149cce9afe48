/**
 * Pinning a network namespace: a bind mount of /proc/<pid>/ns/net onto a
 * file keeps the namespace alive after its last process has ended, so that
 * CNI DEL can still find the container's interface and undo everything (the
 * bridge plugin removes its NAT rules only when it finds the veth).
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError } from '../common/index.js';
import { isNativeError, nativeConstants, sys } from './native.js';

/** Bind-mounts the namespace file `source` onto `target` (created empty). */
export function pinNetns(source: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(target, 'a', 0o444));
  try {
    sys.mount(source, target, null, nativeConstants().MS_BIND, null);
  } catch (error) {
    fs.rmSync(target, { force: true });
    throw new EngineError('UNAVAILABLE', `pin network namespace ${source} at ${target}: ${(error as Error).message}`, { cause: error });
  }
}

/** Unmounts and removes a pinned namespace; nothing to do when it is gone. */
export function unpinNetns(target: string): void {
  try {
    sys.umount2(target, nativeConstants().MNT_DETACH);
  } catch (error) {
    if (!isNativeError(error, 'EINVAL') && !isNativeError(error, 'ENOENT')) {
      throw new EngineError('UNAVAILABLE', `unpin network namespace ${target}: ${(error as Error).message}`, { cause: error });
    }
  }
  fs.rmSync(target, { force: true });
}
