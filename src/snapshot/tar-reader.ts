/**
 * A push-style tar reader: feed it the uncompressed bytes chunk by chunk and
 * it calls the sink synchronously with each entry's header and body.
 *
 * Why not tar-stream: it decodes pax record values as UTF-8 text, which
 * corrupts binary extended attributes such as `security.capability`, and its
 * entry streams cost several event-loop turns per file. Here pax values stay
 * bytes, and a layer of thousands of files is read without any await.
 *
 * Formats understood: ustar (name + prefix), pax extended ('x') and global
 * ('g') headers, GNU long names ('L') and long link names ('K'), old v7
 * headers, base-256 numbers. Sparse files and multi-volume archives are
 * refused. Reading stops at the first all-zero block (end of archive).
 */
import { EngineError } from '../common/index.js';

export type TarEntryKind = 'file' | 'hardlink' | 'symlink' | 'char-device' | 'block-device' | 'directory' | 'fifo';

export interface TarHeader {
  /** Path as written in the archive (not cleaned). */
  name: string;
  kind: TarEntryKind;
  linkname: string;
  /** Permission bits with setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Body size (regular files only carry a body for the sink). */
  size: number;
  /** Seconds since the epoch, possibly fractional (pax). */
  mtime: number;
  atime: number | undefined;
  devmajor: number;
  devminor: number;
  /** Extended attributes from `SCHILY.xattr.*` (and `LIBARCHIVE.xattr.*`) pax records, as raw bytes. */
  xattrs: Map<string, Buffer>;
}

export interface TarSink {
  entry(header: TarHeader): void;
  /** Body bytes of the current regular file; the view is only valid during the call. */
  data(chunk: Buffer): void;
  /** The current entry's body is complete. */
  end(): void;
}

const BLOCK = 512;
/** Pax and GNU long-name bodies are held in memory; refuse absurd ones. */
const MAX_META = 16 << 20;

type Meta = 'pax' | 'global' | 'longname' | 'longlink';

export class TarReader {
  private readonly sink: TarSink;
  private readonly what: string;
  private headerBuf = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Body bytes of the current entry still to come, then its padding. */
  private bodyLeft = 0;
  private padLeft = 0;
  private bodyToSink = false;
  private meta: Meta | undefined;
  private metaParts: Buffer[] = [];
  private pax = new Map<string, Buffer>();
  private global = new Map<string, Buffer>();
  private longName: string | undefined;
  private longLink: string | undefined;
  private inEntry = false;
  private ended = false;
  /** Number of entries handed to the sink. */
  entries = 0;

  constructor(sink: TarSink, what = 'tar') {
    this.sink = sink;
    this.what = what;
  }

  /** True once the end-of-archive block has been seen; later bytes are ignored. */
  get finished(): boolean {
    return this.ended;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && !this.ended) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - pos);
        const part = chunk.subarray(pos, pos + n);
        if (this.meta) this.metaParts.push(Buffer.from(part));
        else if (this.bodyToSink) this.sink.data(part);
        this.bodyLeft -= n;
        pos += n;
        if (this.bodyLeft === 0 && this.padLeft === 0) this.finishBody();
        continue;
      }
      if (this.padLeft > 0) {
        const n = Math.min(this.padLeft, chunk.length - pos);
        this.padLeft -= n;
        pos += n;
        if (this.padLeft === 0) this.finishBody();
        continue;
      }
      const n = Math.min(BLOCK - this.headerFill, chunk.length - pos);
      chunk.copy(this.headerBuf, this.headerFill, pos, pos + n);
      this.headerFill += n;
      pos += n;
      if (this.headerFill === BLOCK) {
        this.headerFill = 0;
        this.onHeader(this.headerBuf);
      }
    }
  }

  /** The input is over: it must not stop inside an entry. */
  finish(): void {
    if (this.ended) return;
    if (this.headerFill !== 0 || this.bodyLeft > 0 || this.padLeft > 0 || this.meta || this.inEntry) {
      throw this.error('unexpected end of archive');
    }
    // No end-of-archive blocks at all is tolerated, as GNU tar does.
    this.ended = true;
  }

  private onHeader(block: Buffer): void {
    if (isZeroBlock(block)) {
      this.ended = true;
      return;
    }
    if (!checksumMatches(block)) throw this.error('invalid tar header (checksum mismatch); not a tar archive?');
    const typeflag = block[156] === 0 ? '\0' : String.fromCharCode(block[156]!);
    const size = readNumber(block, 124, 12);
    switch (typeflag) {
      case 'x':
      case 'g':
      case 'L':
      case 'K': {
        if (size > MAX_META) throw this.error(`metadata header of ${size} bytes is too large`);
        this.meta = typeflag === 'x' ? 'pax' : typeflag === 'g' ? 'global' : typeflag === 'L' ? 'longname' : 'longlink';
        this.metaParts = [];
        this.startBody(size, false);
        return;
      }
      default:
        this.startEntry(block, typeflag, size);
    }
  }

  private startEntry(block: Buffer, typeflag: string, headerSize: number): void {
    const magic = block.toString('latin1', 257, 263);
    const isUstar = magic === 'ustar\0';
    let name = readString(block, 0, 100);
    if (isUstar) {
      const prefix = readString(block, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    let linkname = readString(block, 157, 100);
    const records = new Map([...this.global, ...this.pax]);
    this.pax = new Map();

    if (this.longName !== undefined) name = this.longName;
    if (this.longLink !== undefined) linkname = this.longLink;
    this.longName = undefined;
    this.longLink = undefined;
    const text = (key: string): string | undefined => records.get(key)?.toString('utf8');
    name = text('path') ?? name;
    linkname = text('linkpath') ?? linkname;

    const kind = kindOf(typeflag, name);
    if (!kind) throw this.error(`entry ${JSON.stringify(name)}: unsupported entry type ${JSON.stringify(typeflag)}`);
    const size = paxNumber(records, 'size') ?? headerSize;
    const header: TarHeader = {
      name,
      kind,
      linkname,
      mode: readNumber(block, 100, 8) & 0o7777,
      uid: paxNumber(records, 'uid') ?? readNumber(block, 108, 8),
      gid: paxNumber(records, 'gid') ?? readNumber(block, 116, 8),
      size,
      mtime: paxTime(records, 'mtime') ?? readNumber(block, 136, 12),
      atime: paxTime(records, 'atime'),
      devmajor: kind === 'char-device' || kind === 'block-device' ? readNumber(block, 329, 8) : 0,
      devminor: kind === 'char-device' || kind === 'block-device' ? readNumber(block, 337, 8) : 0,
      xattrs: xattrsOf(records),
    };
    this.entries++;
    this.inEntry = true;
    this.sink.entry(header);
    this.startBody(size, kind === 'file');
  }

  private startBody(size: number, toSink: boolean): void {
    this.bodyLeft = size;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    this.bodyToSink = toSink;
    if (size === 0) this.finishBody();
  }

  private finishBody(): void {
    const meta = this.meta;
    if (meta) {
      this.meta = undefined;
      const body = Buffer.concat(this.metaParts);
      this.metaParts = [];
      if (meta === 'pax') this.pax = parsePaxRecords(body, this.what);
      else if (meta === 'global') for (const [k, v] of parsePaxRecords(body, this.what)) this.global.set(k, v);
      else if (meta === 'longname') this.longName = cString(body);
      else this.longLink = cString(body);
      return;
    }
    if (this.inEntry) {
      this.inEntry = false;
      this.sink.end();
    }
  }

  private error(message: string): EngineError {
    return new EngineError('INTEGRITY', `${this.what}: ${message}`);
  }
}

function kindOf(typeflag: string, name: string): TarEntryKind | undefined {
  switch (typeflag) {
    case '0':
    case '\0':
    case '7':
      // Old (pre-POSIX) archives mark directories only by a trailing slash.
      return name.endsWith('/') ? 'directory' : 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    default:
      return undefined;
  }
}

/**
 * Pax records are `"<len> <key>=<value>\n"`, len counting the whole record in
 * bytes. Values are kept as bytes: only the caller knows which are text.
 */
export function parsePaxRecords(body: Buffer, what = 'tar'): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // padding some writers leave
    const space = body.indexOf(0x20, pos);
    const length = space < 0 ? NaN : Number(body.toString('latin1', pos, space));
    if (!Number.isInteger(length) || length <= 0 || pos + length > body.length || body[pos + length - 1] !== 0x0a) {
      throw new EngineError('INTEGRITY', `${what}: malformed pax record at byte ${pos}`);
    }
    const record = body.subarray(space + 1, pos + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new EngineError('INTEGRITY', `${what}: malformed pax record at byte ${pos}`);
    out.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    pos += length;
  }
  return out;
}

function xattrsOf(records: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [key, value] of records) {
    if (key.startsWith('SCHILY.xattr.')) {
      out.set(key.slice('SCHILY.xattr.'.length), value);
    } else if (key.startsWith('LIBARCHIVE.xattr.')) {
      // libarchive writes the name URL-encoded and the value in base64.
      out.set(decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(value.toString('latin1'), 'base64'));
    }
  }
  return out;
}

function paxNumber(records: Map<string, Buffer>, key: string): number | undefined {
  const value = records.get(key);
  if (value === undefined) return undefined;
  const n = Number(value.toString('latin1'));
  if (!Number.isSafeInteger(n) || n < 0) throw new EngineError('INTEGRITY', `tar: pax ${key} ${JSON.stringify(value.toString('latin1'))} is not valid`);
  return n;
}

function paxTime(records: Map<string, Buffer>, key: string): number | undefined {
  const value = records.get(key);
  if (value === undefined) return undefined;
  const n = Number(value.toString('latin1'));
  return Number.isFinite(n) ? n : undefined;
}

/** Octal text (NUL/space padded) or GNU base-256 (high bit of the first byte set). */
export function readNumber(block: Buffer, offset: number, width: number): number {
  const first = block[offset]!;
  if (first & 0x80) {
    if (first === 0xff) return -1; // negative base-256: not meaningful for us
    let value = first & 0x7f;
    for (let i = 1; i < width; i++) value = value * 256 + block[offset + i]!;
    return value;
  }
  let value = 0;
  let seen = false;
  for (let i = offset; i < offset + width; i++) {
    const c = block[i]!;
    if (c >= 0x30 && c <= 0x37) {
      value = value * 8 + (c - 0x30);
      seen = true;
    } else if (c === 0 || c === 0x20) {
      if (seen) break;
    } else {
      break;
    }
  }
  return value;
}

function readString(block: Buffer, offset: number, width: number): string {
  let end = offset;
  while (end < offset + width && block[end] !== 0) end++;
  return block.toString('utf8', offset, end);
}

function cString(body: Buffer): string {
  const nul = body.indexOf(0);
  return body.toString('utf8', 0, nul < 0 ? body.length : nul);
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** The checksum counts the header with its own field as spaces; some old writers summed signed bytes. */
function checksumMatches(block: Buffer): boolean {
  const stored = readNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}
