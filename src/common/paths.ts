/**
 * Every place the engine keeps state, derived from two roots so that tests
 * (and users) can move all of it: the data root (persistent) and the run root
 * (per boot, on tmpfs in production).
 *
 *   <root>/db.sqlite                      metadata (WAL)
 *   <root>/content/blobs/sha256/<hex>     blobs by digest
 *   <root>/content/ingest/<hex>/          partial downloads
 *   <root>/layers/<chain-hex>/diff/       unpacked layers
 *   <root>/containers/<id>/               bundle, upper/, work/, rootfs/, log
 *   <root>/volumes/<name>/_data
 *   <run-root>/<id>/                      monitor pid, exit file, sockets
 */
import path from 'node:path';

export const DEFAULT_ROOT = '/var/lib/didactic-container';
export const DEFAULT_RUN_ROOT = '/run/didactic-container';

export interface RootOptions {
  root?: string | undefined;
  runRoot?: string | undefined;
}

export interface EnginePaths {
  root: string;
  runRoot: string;
  db: string;
  content: string;
  blobs: string;
  ingest: string;
  layers: string;
  containers: string;
  volumes: string;
  tmp: string;
}

/** Resolves the roots: explicit option, then environment, then the default. */
export function resolvePaths(options: RootOptions = {}, env: NodeJS.ProcessEnv = process.env): EnginePaths {
  const root = path.resolve(options.root ?? env.DIDACTIC_CONTAINER_ROOT ?? DEFAULT_ROOT);
  const runRoot = path.resolve(options.runRoot ?? env.DIDACTIC_CONTAINER_RUN_ROOT ?? DEFAULT_RUN_ROOT);
  const content = path.join(root, 'content');
  return {
    root,
    runRoot,
    db: path.join(root, 'db.sqlite'),
    content,
    blobs: path.join(content, 'blobs'),
    ingest: path.join(content, 'ingest'),
    layers: path.join(root, 'layers'),
    containers: path.join(root, 'containers'),
    volumes: path.join(root, 'volumes'),
    tmp: path.join(root, 'tmp'),
  };
}
