/**
 * The volume flags of `run`, Docker's syntax, into MountRequests:
 *
 *   -v /host:/ctr[:ro|rw][,z|Z][,propagation][,nocopy]   bind (made when missing)
 *   -v NAME:/ctr[:ro|rw][,nocopy]                         named volume (made when missing)
 *   -v /ctr                                               anonymous volume
 *   --mount type=bind|volume|tmpfs,source=,target=,readonly,bind-propagation=,
 *           volume-nocopy,volume-label=k=v,tmpfs-size=,tmpfs-mode=
 *   --tmpfs /ctr[:size=64m,mode=1777,...]
 *   --volumes-from CONTAINER[:ro|rw]
 *
 * Every parser is pure and throws EngineError INVALID_ARGUMENT naming the flag.
 */
import path from 'node:path';
import { EngineError } from '../common/index.js';
import { checkVolumeName } from './names.js';
import { PROPAGATIONS, type MountRequest, type Propagation, type TmpfsOptions, type VolumesFromRequest } from './types.js';

function invalid(message: string, hint?: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', message, hint === undefined ? {} : { hint });
}

/** An absolute container path, cleaned; never `/` itself. */
export function checkTarget(target: string, origin: string): string {
  if (target === '') throw invalid(`${origin}: the mount target is empty`);
  if (target.includes('\0')) throw invalid(`${origin}: the mount target contains a NUL byte`);
  if (!target.startsWith('/')) throw invalid(`${origin}: invalid mount path ${JSON.stringify(target)}: mount path must be absolute`);
  const clean = path.posix.normalize(target);
  const trimmed = clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
  if (trimmed === '/') throw invalid(`${origin}: invalid mount config: destination can't be '/'`);
  return trimmed;
}

function hostPath(source: string, origin: string, cwd: string | undefined): string {
  if (source.includes('\0')) throw invalid(`${origin}: the source path contains a NUL byte`);
  if (source.startsWith('/')) return path.posix.normalize(source);
  if (cwd === undefined) throw invalid(`${origin}: the bind source ${JSON.stringify(source)} is not absolute`);
  return path.resolve(cwd, source);
}

const IGNORED_MODES = new Set(['z', 'Z', 'consistent', 'cached', 'delegated']);

interface ParsedMode {
  readonly: boolean;
  propagation?: Propagation;
  noCopy: boolean;
}

function parseMode(mode: string, origin: string): ParsedMode {
  const out: ParsedMode = { readonly: false, noCopy: false };
  let rw = 0;
  let label = 0;
  for (const part of mode.split(',')) {
    if (part === 'ro' || part === 'rw') {
      out.readonly = part === 'ro';
      rw++;
    } else if ((PROPAGATIONS as readonly string[]).includes(part)) {
      if (out.propagation !== undefined) throw invalid(`${origin}: invalid mode ${JSON.stringify(mode)}: more than one propagation`);
      out.propagation = part as Propagation;
    } else if (part === 'nocopy') {
      out.noCopy = true;
    } else if (IGNORED_MODES.has(part)) {
      if (part === 'z' || part === 'Z') label++;
    } else {
      throw invalid(`${origin}: invalid mode ${JSON.stringify(part)}`, 'modes are ro, rw, z, Z, nocopy and a propagation (rprivate, private, rshared, shared, rslave, slave)');
    }
  }
  if (rw > 1 || label > 1) throw invalid(`${origin}: invalid mode ${JSON.stringify(mode)}: conflicting options`);
  return out;
}

function isMode(text: string): boolean {
  try {
    parseMode(text, '');
    return true;
  } catch {
    return false;
  }
}

/** One `-v`/`--volume` value. `cwd` makes `./dir` sources absolute (omit it to refuse relative paths). */
export function parseVolumeFlag(text: string, options: { cwd?: string } = {}): MountRequest {
  const origin = `-v ${text}`;
  const parts = text.split(':');
  if (parts.length === 1) {
    return { type: 'volume', source: '', target: checkTarget(text, origin), readonly: false, mode: '', origin };
  }
  if (parts.length > 3) throw invalid(`invalid volume specification: ${JSON.stringify(text)}`, 'SOURCE:TARGET[:MODE]');
  const [source, target, mode = ''] = parts as [string, string, string?];
  if (parts.length === 2 && isMode(target) && !target.startsWith('/')) {
    throw invalid(`invalid volume specification: ${JSON.stringify(text)}: an anonymous volume takes no mode`);
  }
  if (source === '') throw invalid(`invalid volume specification: ${JSON.stringify(text)}: empty source`);
  if (parts.length === 3 && mode === '') throw invalid(`invalid volume specification: ${JSON.stringify(text)}: empty mode`);
  const cleanTarget = checkTarget(target, origin);
  const parsed = mode === '' ? { readonly: false, noCopy: false } : parseMode(mode, origin);
  const isBind = source.startsWith('/') || source === '.' || source.startsWith('./') || source.startsWith('../') || source === '..';
  if (isBind) {
    if (parsed.noCopy) throw invalid(`${origin}: nocopy applies to volumes, not to bind mounts`);
    return {
      type: 'bind',
      source: hostPath(source, origin, options.cwd),
      target: cleanTarget,
      readonly: parsed.readonly,
      propagation: parsed.propagation ?? 'rprivate',
      createSource: true,
      mode,
      origin,
    };
  }
  if (parsed.propagation !== undefined) throw invalid(`${origin}: a propagation applies to bind mounts, not to volumes`);
  const request: MountRequest = { type: 'volume', source: checkVolumeName(source, origin), target: cleanTarget, readonly: parsed.readonly, mode, origin };
  if (parsed.noCopy) request.noCopy = true;
  return request;
}

/** Splits a --mount value at commas, honouring double-quoted fields ("a,b" or key="a,b"). */
export function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      if (quoted && text[i + 1] === '"') {
        current += '"';
        i++;
      } else {
        quoted = !quoted;
      }
    } else if (ch === ',' && !quoted) {
      fields.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (quoted) throw invalid(`--mount ${text}: unterminated quote`);
  fields.push(current);
  return fields;
}

function parseBool(value: string, key: string, origin: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw invalid(`${origin}: invalid value for ${key}: ${JSON.stringify(value)}`, 'use true or false');
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([kmgt])?i?b?$/i;
const UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A tmpfs size in bytes: 65536, 64k, 64m, 1g. */
export function parseTmpfsSize(text: string, origin: string): number {
  const match = SIZE_RE.exec(text.trim());
  if (match === null) throw invalid(`${origin}: invalid tmpfs size ${JSON.stringify(text)}`, 'a number of bytes or with a unit: 512k, 64m, 1g');
  const bytes = Math.floor(Number(match[1]) * (match[2] === undefined ? 1 : UNITS[match[2].toLowerCase()]!));
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw invalid(`${origin}: invalid tmpfs size ${JSON.stringify(text)}`);
  return bytes;
}

/** A permission mode in octal: 1777, 0755, 700. */
export function parseOctalMode(text: string, origin: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw invalid(`${origin}: invalid tmpfs mode ${JSON.stringify(text)}`, 'an octal mode such as 1777 or 755');
  return parseInt(text, 8);
}

/** One `--mount` value. */
export function parseMountFlag(text: string, options: { cwd?: string } = {}): MountRequest {
  const origin = `--mount ${text}`;
  let type: string = 'volume';
  let source: string | undefined;
  let target: string | undefined;
  let readonly = false;
  let propagation: Propagation | undefined;
  let noCopy: boolean | undefined;
  const labels: Record<string, string> = {};
  const tmpfs: TmpfsOptions = { options: [] };
  const seenByType: Record<string, string[]> = { bind: [], volume: [], tmpfs: [] };
  for (const field of splitCsv(text)) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    const need = (): string => {
      if (value === undefined) throw invalid(`${origin}: invalid field ${JSON.stringify(field)}: must be a key=value pair`);
      return value;
    };
    switch (key) {
      case 'type':
        type = need();
        break;
      case 'source':
      case 'src':
        source = need();
        break;
      case 'target':
      case 'destination':
      case 'dst':
        target = need();
        break;
      case 'readonly':
      case 'ro':
        readonly = value === undefined ? true : parseBool(value, key, origin);
        break;
      case 'bind-propagation': {
        const v = need();
        if (!(PROPAGATIONS as readonly string[]).includes(v)) throw invalid(`${origin}: invalid bind-propagation ${JSON.stringify(v)}`);
        propagation = v as Propagation;
        seenByType.bind!.push(key);
        break;
      }
      case 'volume-nocopy':
        noCopy = value === undefined ? true : parseBool(value, key, origin);
        seenByType.volume!.push(key);
        break;
      case 'volume-label': {
        const v = need();
        const at = v.indexOf('=');
        labels[at < 0 ? v : v.slice(0, at)] = at < 0 ? '' : v.slice(at + 1);
        seenByType.volume!.push(key);
        break;
      }
      case 'volume-driver':
        if (need() !== 'local') throw new EngineError('NOT_IMPLEMENTED', `${origin}: volume driver ${JSON.stringify(value)} is not supported (only local)`);
        seenByType.volume!.push(key);
        break;
      case 'volume-opt':
        throw new EngineError('NOT_IMPLEMENTED', `${origin}: volume-opt is not supported by this engine's local driver`);
      case 'tmpfs-size':
        tmpfs.size = parseTmpfsSize(need(), origin);
        seenByType.tmpfs!.push(key);
        break;
      case 'tmpfs-mode':
        tmpfs.mode = parseOctalMode(need(), origin);
        seenByType.tmpfs!.push(key);
        break;
      case 'consistency':
        need();
        break;
      default:
        throw invalid(`${origin}: unexpected key ${JSON.stringify(key)} in ${JSON.stringify(field)}`);
    }
  }
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') {
    throw invalid(`${origin}: invalid mount type ${JSON.stringify(type)}`, 'use type=bind, type=volume or type=tmpfs');
  }
  for (const [kind, keys] of Object.entries(seenByType)) {
    if (kind !== type && keys.length > 0) throw invalid(`${origin}: invalid mount config for type ${JSON.stringify(type)}: ${keys[0]} applies to type=${kind}`);
  }
  if (target === undefined) throw invalid(`${origin}: invalid mount config for type ${JSON.stringify(type)}: target is required`);
  const cleanTarget = checkTarget(target, origin);
  const mode = readonly ? 'ro' : '';
  if (type === 'bind') {
    if (source === undefined || source === '') throw invalid(`${origin}: invalid mount config for type "bind": field Source must not be empty`);
    return { type, source: hostPath(source, origin, options.cwd), target: cleanTarget, readonly, propagation: propagation ?? 'rprivate', createSource: false, mode, origin };
  }
  if (type === 'tmpfs') {
    if (source !== undefined && source !== '') throw invalid(`${origin}: invalid mount config for type "tmpfs": field Source must not be specified`);
    return { type, source: '', target: cleanTarget, readonly, tmpfs, mode, origin };
  }
  const request: MountRequest = {
    type: 'volume',
    source: source === undefined || source === '' ? '' : checkVolumeName(source, origin),
    target: cleanTarget,
    readonly,
    mode,
    origin,
  };
  if (noCopy === true) request.noCopy = true;
  if (Object.keys(labels).length > 0) request.labels = labels;
  return request;
}

const TMPFS_FLAGS = new Set([
  'ro', 'rw', 'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'atime', 'noatime', 'diratime', 'nodiratime',
  'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'sync', 'async', 'dirsync',
]);
const TMPFS_VALUES = new Set(['uid', 'gid', 'nr_inodes', 'nr_blocks', 'huge', 'mpol']);

/** One `--tmpfs` value: PATH[:OPTIONS], OPTIONS being tmpfs mount options (size=64m,mode=1777,exec,...). */
export function parseTmpfsFlag(text: string): MountRequest {
  const origin = `--tmpfs ${text}`;
  const colon = text.indexOf(':');
  const target = checkTarget(colon < 0 ? text : text.slice(0, colon), origin);
  const tmpfs: TmpfsOptions = { options: [] };
  let readonly = false;
  const optionText = colon < 0 ? '' : text.slice(colon + 1);
  for (const option of optionText === '' ? [] : optionText.split(',')) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? '' : option.slice(eq + 1);
    if (key === 'size' && eq >= 0) {
      if (/^\d{1,3}%$/.test(value)) tmpfs.options.push(option);
      else tmpfs.size = parseTmpfsSize(value, origin);
    } else if (key === 'mode' && eq >= 0) {
      tmpfs.mode = parseOctalMode(value, origin);
    } else if (eq < 0 && TMPFS_FLAGS.has(key)) {
      if (key === 'ro' || key === 'rw') readonly = key === 'ro';
      else tmpfs.options.push(option);
    } else if (eq >= 0 && TMPFS_VALUES.has(key) && /^[A-Za-z0-9:._-]+$/.test(value)) {
      tmpfs.options.push(option);
    } else {
      throw invalid(`${origin}: invalid tmpfs option ${JSON.stringify(option)}`, 'size=64m, mode=1777, uid=, gid=, nr_inodes=, ro, exec, noexec, nosuid, nodev, ...');
    }
  }
  return { type: 'tmpfs', source: '', target, readonly, tmpfs, mode: readonly ? 'ro' : '', origin };
}

/** One `--volumes-from` value: CONTAINER[:ro|rw]. */
export function parseVolumesFrom(text: string): VolumesFromRequest {
  const parts = text.split(':');
  if (parts.length > 2 || parts[0] === '') throw invalid(`--volumes-from ${text}: expected CONTAINER[:ro|rw]`);
  const [container, mode] = parts as [string, string?];
  if (mode === undefined) return { container };
  if (mode !== 'ro' && mode !== 'rw') throw invalid(`--volumes-from ${text}: invalid mode ${JSON.stringify(mode)}`, 'ro or rw');
  return { container, mode };
}
