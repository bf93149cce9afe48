/**
 * A small tar writer: POSIX ustar headers, with a pax extended header in
 * front of an entry whenever a field does not fit (long names and link
 * names, sizes and ids beyond the octal fields, fractional mtimes, long
 * user/group names) and for extended attributes (`SCHILY.xattr.<name>`).
 *
 * It writes exactly what it is given. Names with `..`, absolute names, links
 * pointing anywhere: nothing is cleaned up, because tests use this writer to
 * build hostile archives on purpose. The reading side is tar-stream.
 *
 * Layout of a ustar header (512 bytes, offsets in bytes):
 *   name 0+100, mode 100+8, uid 108+8, gid 116+8, size 124+12, mtime 136+12,
 *   chksum 148+8, typeflag 156, linkname 157+100, magic 257+6 "ustar\0",
 *   version 263+2 "00", uname 265+32, gname 297+32, devmajor 329+8,
 *   devminor 337+8, prefix 345+155.
 */

export type TarEntryType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'hardlink'
  | 'char-device'
  | 'block-device'
  | 'fifo';

export interface TarEntry {
  /** Path inside the archive, written as given (a directory gets a trailing `/`). */
  name: string;
  type?: TarEntryType;
  /** Permission bits including setuid/setgid/sticky; defaults 0644, 0755 for directories, 0777 for symlinks. */
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Seconds since the epoch (may be fractional) or a Date; default 0. */
  mtime?: number | Date;
  /** Target of a symlink or hardlink, written as given. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, e.g. `user.foo` or `security.capability`; values may be binary. */
  xattrs?: Record<string, string | Uint8Array>;
  /** Extra pax records written verbatim (they win over computed ones). */
  pax?: Record<string, string | Uint8Array>;
}

export interface TarWriter {
  /** Appends one entry; `body` is only meaningful for regular files. */
  add(entry: TarEntry, body?: Uint8Array | string): void;
  /** The archive so far plus the two zero blocks that end it. */
  finish(): Buffer;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  'char-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

/** Two zero blocks mark the end of an archive. */
export const TAR_END: Buffer = Buffer.alloc(BLOCK * 2);

export function createTarWriter(): TarWriter {
  const chunks: Buffer[] = [];
  return {
    add(entry, body) {
      chunks.push(...encodeTarEntry(entry, body));
    },
    finish() {
      return Buffer.concat([...chunks, TAR_END]);
    },
  };
}

/** Builds a whole archive from a list of entries in one call. */
export function buildTar(entries: Array<TarEntry & { body?: Uint8Array | string }>): Buffer {
  const writer = createTarWriter();
  for (const entry of entries) writer.add(entry, entry.body);
  return writer.finish();
}

/**
 * The blocks for one entry: an optional pax header + its records, the ustar
 * header, and the body padded to 512 bytes. Useful for streaming: write these
 * to any Writable, then TAR_END.
 */
export function encodeTarEntry(entry: TarEntry, body?: Uint8Array | string): Buffer[] {
  const type = entry.type ?? 'file';
  const data = body === undefined ? Buffer.alloc(0) : toBuffer(body);
  if (type !== 'file' && data.length > 0) {
    throw new Error(`tar entry ${JSON.stringify(entry.name)}: only regular files carry a body`);
  }
  const out: Buffer[] = [];
  const { header, pax } = encodeTarHeader(entry, data.length);
  if (pax.length > 0) {
    const paxHeader = encodeTarHeader(
      { name: paxHeaderName(entry.name), mode: 0o644 },
      pax.length,
      'x',
    ).header;
    out.push(paxHeader, pax, padding(pax.length));
  }
  out.push(header);
  if (data.length > 0) out.push(data, padding(data.length));
  return out;
}

/**
 * The ustar header for an entry declaring `size` body bytes, plus the pax
 * records (already encoded, possibly empty) that must precede it. Exposed so
 * tests can check fields that would need huge bodies (sizes over 8 GiB).
 */
export function encodeTarHeader(
  entry: TarEntry,
  size: number,
  typeflagOverride?: string,
): { header: Buffer; pax: Buffer } {
  const type = entry.type ?? 'file';
  const records = new Map<string, Buffer>();
  const header = Buffer.alloc(BLOCK);

  let name = entry.name;
  if (type === 'directory' && !name.endsWith('/')) name += '/';
  const split = splitName(name);
  if (split) {
    writeString(header, 0, 100, split.name);
    writeString(header, 345, 155, split.prefix);
  } else {
    records.set('path', Buffer.from(name));
    writeString(header, 0, 100, name); // cut to 100 bytes; readers use the pax path
  }

  const mode = entry.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644);
  writeOctal(header, 100, 8, mode & 0o7777);
  numberField(header, records, 'uid', 108, 8, entry.uid ?? 0);
  numberField(header, records, 'gid', 116, 8, entry.gid ?? 0);
  numberField(header, records, 'size', 124, 12, size);

  const mtime = entry.mtime instanceof Date ? entry.mtime.getTime() / 1000 : (entry.mtime ?? 0);
  const wholeSeconds = Math.floor(mtime);
  if (wholeSeconds !== mtime || wholeSeconds < 0 || wholeSeconds > 8 ** 11 - 1) {
    records.set('mtime', Buffer.from(formatPaxTime(mtime)));
  }
  writeOctal(header, 136, 12, wholeSeconds >= 0 && wholeSeconds <= 8 ** 11 - 1 ? wholeSeconds : 0);

  header.write(typeflagOverride ?? TYPEFLAG[type], 156, 1, 'latin1');

  const linkname = entry.linkname ?? '';
  if (Buffer.byteLength(linkname) > 100) records.set('linkpath', Buffer.from(linkname));
  writeString(header, 157, 100, linkname);

  header.write('ustar\0', 257, 6, 'latin1');
  header.write('00', 263, 2, 'latin1');
  textField(header, records, 'uname', 265, 32, entry.uname ?? '');
  textField(header, records, 'gname', 297, 32, entry.gname ?? '');
  if (type === 'char-device' || type === 'block-device') {
    writeOctal(header, 329, 8, entry.devmajor ?? 0);
    writeOctal(header, 337, 8, entry.devminor ?? 0);
  }

  for (const [key, value] of Object.entries(entry.xattrs ?? {})) {
    records.set(`SCHILY.xattr.${key}`, toBuffer(value));
  }
  for (const [key, value] of Object.entries(entry.pax ?? {})) {
    records.set(key, toBuffer(value));
  }

  writeChecksum(header);
  return { header, pax: encodePaxRecords(records) };
}

/**
 * Pax records: `"<len> <key>=<value>\n"` where len counts the whole record in
 * bytes, its own digits included. Values are raw bytes, so binary xattrs
 * survive.
 */
export function encodePaxRecords(records: Map<string, Buffer> | Record<string, string | Uint8Array>): Buffer {
  const entries =
    records instanceof Map ? [...records] : Object.entries(records).map(([k, v]) => [k, toBuffer(v)] as const);
  const parts: Buffer[] = [];
  for (const [key, value] of entries) {
    const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
    let length = rest + String(rest).length;
    if (String(length).length !== String(rest).length) length = rest + String(length).length;
    parts.push(Buffer.from(`${length} ${key}=`), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Fits a path into ustar's name (100) + prefix (155), split at a `/`; null when it cannot. */
function splitName(name: string): { name: string; prefix: string } | null {
  const bytes = Buffer.byteLength(name);
  if (bytes <= 100) return { name, prefix: '' };
  if (bytes > 256) return null;
  // The last slash such that the tail fits in 100 bytes and the head in 155.
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(rest) > 100) break;
    if (rest.length > 0 && Buffer.byteLength(prefix) <= 155) return { name: rest, prefix };
  }
  return null;
}

function paxHeaderName(name: string): string {
  const base = name.replace(/\/+$/, '').split('/').pop() || 'entry';
  return `PaxHeaders.0/${base}`; // cut to 100 bytes when written
}

function numberField(header: Buffer, records: Map<string, Buffer>, key: string, offset: number, width: number, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`tar field ${key}: ${value} is not a non-negative integer`);
  }
  if (value > 8 ** (width - 1) - 1) {
    records.set(key, Buffer.from(String(value)));
    writeOctal(header, offset, width, 0);
  } else {
    writeOctal(header, offset, width, value);
  }
}

function textField(header: Buffer, records: Map<string, Buffer>, key: string, offset: number, width: number, value: string): void {
  if (Buffer.byteLength(value) > width) records.set(key, Buffer.from(value));
  writeString(header, offset, width, value);
}

/** Copies the UTF-8 bytes of a string, cut to the field's width. */
function writeString(header: Buffer, offset: number, width: number, value: string): void {
  Buffer.from(value, 'utf8').copy(header, offset, 0, width);
}

/** Zero-padded octal in width-1 digits followed by NUL. */
function writeOctal(header: Buffer, offset: number, width: number, value: number): void {
  header.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'latin1');
}

function writeChecksum(header: Buffer): void {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
}

function toBuffer(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

function formatPaxTime(seconds: number): string {
  const text = seconds.toFixed(9).replace(/\.?0+$/, '');
  return text === '' || text === '-' ? '0' : text;
}

function padding(length: number): Buffer {
  const rest = length % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}
