/**
 * Unpacked layers, one directory per chain id:
 *
 *   layers/<chain-hex>/diff/       the layer's files, whiteouts in overlay form
 *   layers/<chain-hex>/diff-id     the verified diff id
 *   layers/.tmp-<random>/          a layer being unpacked (owner pid in .tmp-*\/owner)
 *   layers/.rm-<random>/           a layer being removed
 *
 * A layer is unpacked under a temporary name and renamed to its chain id only
 * after its diff id verified (and whatever the caller checks in beforeCommit),
 * so a directory under a chain id is always complete. Temporary directories left by a killed process are swept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { EngineError, digestHex, isDigest, type Digest, type EnginePaths } from '../common/index.js';
import { unpackLayer, type UnpackOptions, type UnpackResult } from './unpack.js';

export interface LayerInfo {
  chainId: Digest;
  diffId: Digest | undefined;
}

export interface LayerStore {
  /** The overlay lower dir of a chain id (whether or not it exists). */
  layerDir(chainId: Digest): string;
  hasLayer(chainId: Digest): boolean;
  /**
   * Unpacks a layer stream for chainId, verifying that its diff id is
   * expectedDiffId (INTEGRITY otherwise, and nothing left behind). When the
   * layer appeared meanwhile (another process), the new copy is discarded.
   */
  unpackInto(chainId: Digest, input: Readable, expectedDiffId: Digest, options?: LayerUnpackOptions): Promise<UnpackResult>;
  /** Removes a layer; false when it was not there. */
  removeLayer(chainId: Digest): boolean;
  listLayers(): LayerInfo[];
  /** Removes temporary directories whose owner process is gone; returns how many. */
  sweep(): number;
}

export interface LayerUnpackOptions extends UnpackOptions {
  /**
   * Awaited after the diff id verified and before the layer gets its final
   * name; a rejection discards the layer. A pull that unpacks a blob while it
   * downloads waits here for the blob's own digest.
   */
  beforeCommit?(): Promise<void>;
}

const OWNER_FILE = 'owner';
const DIFF_ID_FILE = 'diff-id';

export function createLayerStore(paths: Pick<EnginePaths, 'layers'>): LayerStore {
  const root = paths.layers;
  let swept = false;

  const dirOf = (chainId: Digest): string => {
    if (!isDigest(chainId)) {
      throw new EngineError('INVALID_ARGUMENT', `chain id ${JSON.stringify(chainId)} is not a sha256 digest`);
    }
    return path.join(root, digestHex(chainId));
  };

  const sweep = (): number => {
    let removed = 0;
    for (const name of readDirOrEmpty(root)) {
      const dir = path.join(root, name);
      if (name.startsWith('.rm-')) {
        fs.rmSync(dir, { recursive: true, force: true });
        removed++;
      } else if (name.startsWith('.tmp-')) {
        const owner = Number.parseInt(readOrEmpty(path.join(dir, OWNER_FILE)), 10);
        if (Number.isInteger(owner) && isAlive(owner)) continue;
        // No owner file yet: only stale when it is not brand new.
        if (!Number.isInteger(owner) && Date.now() - mtimeOf(dir) < 60_000) continue;
        fs.rmSync(dir, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  };

  return {
    layerDir: (chainId) => path.join(dirOf(chainId), 'diff'),
    hasLayer: (chainId) => fs.existsSync(path.join(dirOf(chainId), 'diff')),

    async unpackInto(chainId, input, expectedDiffId, options = {}) {
      const finalDir = dirOf(chainId);
      if (!isDigest(expectedDiffId)) {
        throw new EngineError('INVALID_ARGUMENT', `diff id ${JSON.stringify(expectedDiffId)} is not a sha256 digest`);
      }
      fs.mkdirSync(root, { recursive: true });
      if (!swept) {
        swept = true;
        sweep();
      }
      const { beforeCommit, ...unpackOptions } = options;
      const what = options.what ?? `layer ${expectedDiffId}`;
      const tmp = path.join(root, `.tmp-${randomBytes(8).toString('hex')}`);
      fs.mkdirSync(tmp, 0o700);
      let done = false;
      try {
        fs.writeFileSync(path.join(tmp, OWNER_FILE), `${process.pid}\n`);
        const result = await unpackLayer(input, path.join(tmp, 'diff'), { ...unpackOptions, what });
        if (result.diffId !== expectedDiffId) {
          throw new EngineError('INTEGRITY', `${what}: diff id mismatch (got ${result.diffId}, expected ${expectedDiffId})`);
        }
        fs.writeFileSync(path.join(tmp, DIFF_ID_FILE), `${result.diffId}\n`);
        await beforeCommit?.();
        // Lower dirs must be traversable by everyone; the layer's own root mode is on diff/.
        fs.chmodSync(tmp, 0o755);
        try {
          fs.renameSync(tmp, finalDir);
          done = true;
          // The owner file kept the temp dir safe from sweeps until here.
          fs.rmSync(path.join(finalDir, OWNER_FILE), { force: true });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
          // Another process finished the same layer first; keep theirs.
        }
        return result;
      } finally {
        if (!done) fs.rmSync(tmp, { recursive: true, force: true });
      }
    },

    removeLayer(chainId) {
      const dir = dirOf(chainId);
      const aside = path.join(root, `.rm-${randomBytes(8).toString('hex')}`);
      try {
        fs.renameSync(dir, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
      fs.rmSync(aside, { recursive: true, force: true });
      return true;
    },

    listLayers() {
      const out: LayerInfo[] = [];
      for (const name of readDirOrEmpty(root)) {
        const chainId = `sha256:${name}`;
        if (!isDigest(chainId)) continue;
        const diffId = readOrEmpty(path.join(root, name, DIFF_ID_FILE)).trim();
        out.push({ chainId, diffId: isDigest(diffId) ? diffId : undefined });
      }
      return out;
    },

    sweep,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function mtimeOf(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function readDirOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
