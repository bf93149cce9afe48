/**
 * `cp CONTAINER:PATH HOSTPATH` and `cp HOSTPATH CONTAINER:PATH`.
 *
 * The container's side runs in C inside the container's mount namespace
 * (didactic-join tar-create / tar-extract, after setns into its user and
 * mount namespaces): there the kernel resolves every path component and
 * every symlink against the container's own root and its own mounts
 * (volumes included), so a link to /etc is the container's /etc, and no
 * race between checking a path and using it can lead out to the host.
 *
 *   out: tar-create in the container -> TarReader -> a sink below the host
 *        destination that walks parents with lstat and never follows a
 *        symlink (the archive comes from the container: untrusted)
 *   in:  tar-create of the host path (the same helper, joining nothing)
 *        piped into tar-extract in the container
 *
 * Docker's destination rules: an existing directory receives the source
 * under its own name; otherwise the destination's parent must exist and
 * the copy takes the destination's name. Owners, modes and mtimes are kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { EngineError } from '../common/index.js';
import { cleanEntryPath, TarReader, type TarHeader, type TarSink } from '../snapshot/index.js';
import { launchFailureOf, startJoined } from '../sys/index.js';
import { copyPlan, findContainer, namespacesToJoin, runningPid } from './exec.js';
import type { EngineState } from './state.js';
import type { CopyRequest, CopyResult } from './types.js';

interface Side {
  container?: string;
  path: string;
}

/** `NAME:PATH` names a container unless the argument starts like a local path (Docker's rule). */
export function parseCopyArg(arg: string): Side {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon <= 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

/** A container path made absolute and normal ('' and relative paths are below /). */
function containerPath(inside: string): string {
  return path.posix.normalize(`/${inside}`);
}

/** The error of a finished helper in cp's words. */
function copyError(error: EngineError, what: string, containerName: string, inside: string): EngineError {
  const failure = launchFailureOf(error);
  if (failure?.errnoName === 'ENOENT') {
    return new EngineError('NOT_FOUND', `Could not find the file ${inside} in container ${containerName}`, { cause: error });
  }
  return new EngineError(error.code, `${what}: ${error.message.replace(/^[^:]*: /, '')}`, { cause: error });
}

async function finished(joined: { exited: Promise<{ status: number }>; failure: Promise<EngineError | undefined> }, what: string): Promise<EngineError | undefined> {
  const failure = await joined.failure;
  const { status } = await joined.exited;
  if (failure !== undefined) return failure;
  return status === 0 ? undefined : new EngineError('INTERNAL', `${what}: the join helper exited with status ${status}`);
}

export async function copyFiles(state: EngineState, request: CopyRequest): Promise<CopyResult> {
  const source = parseCopyArg(request.source);
  const destination = parseCopyArg(request.destination);
  const what = `cp ${request.source} ${request.destination}`;
  if (source.container !== undefined && destination.container !== undefined) {
    throw new EngineError('INVALID_ARGUMENT', `${what}: copying between containers is not supported`);
  }
  const side = source.container ?? destination.container;
  if (side === undefined) throw new EngineError('INVALID_ARGUMENT', `${what}: must specify at least one container source`);
  const record = findContainer(state.db(), side, what);
  const pid = runningPid(record, what);
  const namespaces = namespacesToJoin(pid, ['user', 'mnt']);
  if (!namespaces.some((ns) => ns.type === 'mount')) throw new EngineError('FAILED_PRECONDITION', `${what}: the container shares the host's mount namespace`);
  const explainer = state.explainer;

  if (source.container !== undefined) {
    const inside = containerPath(source.path);
    const { dir, top } = hostDestination(destination.path, path.posix.basename(inside) || '.', what);
    const joined = await startJoined(copyPlan(namespaces, [inside, top]), { mode: 'tar-create', stdio: ['ignore', 'pipe', 'inherit'], explainer, what });
    const sink = createHostSink(dir);
    const reader = new TarReader(sink, `container ${record.name}:${inside}`);
    let sinkError: unknown;
    try {
      await readInto(joined.stdout!, reader);
      sink.finish();
    } catch (error) {
      sinkError = error;
      sink.abort();
      joined.kill('SIGKILL');
    }
    // The helper's own ERR line explains a broken stream best; else the sink's refusal; else its status.
    const reported = await joined.failure;
    if (reported !== undefined) throw copyError(reported, what, record.name, inside);
    if (sinkError !== undefined) throw sinkError;
    const failure = await finished(joined, what);
    if (failure !== undefined) throw failure;
    return { id: record.id, direction: 'from-container' };
  }

  const hostPath = path.resolve(source.path);
  try {
    fs.lstatSync(hostPath);
  } catch (cause) {
    throw new EngineError('NOT_FOUND', `${what}: stat ${hostPath}: no such file or directory`, { cause });
  }
  const inside = containerPath(destination.path);
  explainer.step({ topic: 'storage', say: `read ${hostPath} as a tar stream on the host`, call: `tar -c ${hostPath}` });
  const reading = await startJoined(copyPlan([], [hostPath, path.basename(hostPath)]), { mode: 'tar-create', stdio: ['ignore', 'pipe', 'inherit'], what });
  const writing = await startJoined(copyPlan(namespaces, [inside]), { mode: 'tar-extract', stdio: ['pipe', 'ignore', 'inherit'], explainer, what });
  writing.stdin!.on('error', () => {}); // EPIPE when the extractor failed: its ERR line says why
  reading.stdout!.pipe(writing.stdin!);
  const [readFailure, writeFailure] = await Promise.all([finished(reading, what), finished(writing, what)]);
  if (writeFailure !== undefined) throw copyError(writeFailure, what, record.name, inside);
  if (readFailure !== undefined) throw readFailure;
  return { id: record.id, direction: 'to-container' };
}

/** Where on the host the archive lands, and the name its top entry takes there. */
function hostDestination(dest: string, sourceName: string, what: string): { dir: string; top: string } {
  const resolved = path.resolve(dest);
  const stat = fs.statSync(resolved, { throwIfNoEntry: false });
  if (stat?.isDirectory()) return { dir: fs.realpathSync(resolved), top: sourceName };
  const parent = path.dirname(resolved);
  if (!fs.statSync(parent, { throwIfNoEntry: false })?.isDirectory()) {
    throw new EngineError('NOT_FOUND', `${what}: the destination's parent directory ${parent} does not exist`);
  }
  return { dir: fs.realpathSync(parent), top: path.basename(resolved) };
}

async function readInto(stream: Readable, reader: TarReader): Promise<void> {
  for await (const chunk of stream) reader.push(chunk as Buffer);
  reader.finish();
}

/**
 * Writes tar entries below root (a real path) without following any
 * symlink: each parent below root must be a real directory (lstat), files
 * are created with O_EXCL|O_NOFOLLOW after removing what was there, and
 * metadata calls are the l* ones. Devices and fifos are skipped.
 * finish() sets the directories' metadata, deepest first, once their
 * children stopped changing their times.
 */
export function createHostSink(root: string): TarSink & { finish(): void; abort(): void } {
  let fd: number | undefined;
  let current: TarHeader | undefined;
  const dirs: { target: string; header: TarHeader }[] = [];

  const place = (name: string): string | undefined => {
    const clean = cleanEntryPath(name);
    if (!clean.ok) throw new EngineError('PERMISSION_DENIED', `cp: refuse the archive entry ${JSON.stringify(name)} (${clean.reason})`);
    if (clean.path === '') return undefined;
    const parts = clean.path.split('/');
    let at = root;
    for (const part of parts.slice(0, -1)) {
      at = path.join(at, part);
      const stat = fs.lstatSync(at, { throwIfNoEntry: false });
      if (stat === undefined || !stat.isDirectory()) {
        throw new EngineError('PERMISSION_DENIED', `cp: refuse the archive entry ${JSON.stringify(name)}: ${at} is not a directory (a symlink is never followed)`);
      }
    }
    return path.join(at, parts.at(-1)!);
  };
  const clear = (target: string) => {
    const stat = fs.lstatSync(target, { throwIfNoEntry: false });
    if (stat === undefined) return;
    if (stat.isDirectory()) throw new EngineError('CONFLICT', `cp: cannot overwrite the directory ${target} with a non-directory`);
    fs.unlinkSync(target);
  };

  return {
    entry(header) {
      const target = place(header.name);
      if (target === undefined) return;
      if (header.kind === 'directory') {
        const stat = fs.lstatSync(target, { throwIfNoEntry: false });
        if (stat === undefined) fs.mkdirSync(target, { mode: 0o700 });
        else if (!stat.isDirectory()) throw new EngineError('CONFLICT', `cp: cannot overwrite the non-directory ${target} with a directory`);
        dirs.push({ target, header });
      } else if (header.kind === 'file') {
        clear(target);
        fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
        current = header;
      } else if (header.kind === 'symlink') {
        clear(target);
        fs.symlinkSync(header.linkname, target);
        fs.lchownSync(target, header.uid, header.gid);
        fs.lutimesSync(target, header.atime ?? header.mtime, header.mtime);
      } else if (header.kind === 'hardlink') {
        const linked = place(header.linkname);
        if (linked === undefined) return;
        clear(target);
        fs.linkSync(linked, target);
      }
    },
    data(chunk) {
      if (fd !== undefined) fs.writeSync(fd, chunk);
    },
    end() {
      if (fd === undefined || current === undefined) return;
      const [file, header] = [fd, current];
      fd = current = undefined;
      try {
        // chown first: it clears setuid bits that chmod then sets again.
        fs.fchownSync(file, header.uid, header.gid);
        fs.fchmodSync(file, header.mode & 0o7777);
        fs.futimesSync(file, header.atime ?? header.mtime, header.mtime);
      } finally {
        fs.closeSync(file);
      }
    },
    abort() {
      if (fd !== undefined) fs.closeSync(fd);
      fd = current = undefined;
    },
    finish() {
      this.abort();
      for (const { target, header } of dirs.reverse()) {
        fs.lchownSync(target, header.uid, header.gid);
        fs.chmodSync(target, header.mode & 0o7777);
        fs.utimesSync(target, header.atime ?? header.mtime, header.mtime);
      }
    },
  };
}
