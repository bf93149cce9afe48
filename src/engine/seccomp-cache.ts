/**
 * Compiled seccomp filters, kept between CLI runs.
 *
 * Compiling Docker's default profile to BPF takes 8 to 25 ms of a cold Node
 * process (hundreds of small objects, code the JIT has not seen yet), yet
 * nearly every container asks for the same few filters: the default profile
 * for the default capability set. So the program is kept under the run root
 * (a tmpfs: gone at reboot, like the kernel it was compiled for), one file per
 * distinct seccomp section:
 *
 *   <run root>/seccomp/<hash>.bpf = u32 length of the section's JSON (LE)
 *                                   the section's JSON, byte for byte
 *                                   the BPF program (8 bytes per instruction)
 *
 * The hash only names the file; a hit is the stored JSON equal to the
 * section's own, so a collision or a damaged file can only cost a compile,
 * never install another container's filter. Files are written to a temp
 * name and renamed: a reader sees a whole file or none. A file is used only
 * when it is this user's and writable by nobody else (a symlink is not
 * followed): what it holds is installed as the container's filter.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compileSeccomp, type LinuxSeccomp } from '../spec/index.js';

const HEADER = 4;

/** A 53-bit string hash (two 32-bit FNV-1a style lanes): enough to spread file names. */
function nameHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x1b873593;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995);
  }
  return ((a >>> 0).toString(16).padStart(8, '0') + ((b >>> 11) >>> 0).toString(16).padStart(6, '0'));
}

/** The stored program for exactly this section, or undefined. */
function readCached(file: string, json: Buffer): Buffer | undefined {
  let data: Buffer;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    // The filter is installed as read: only a file this user wrote and nobody else can change is one.
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.uid !== process.geteuid?.() || (stat.mode & 0o022) !== 0) return undefined;
    data = fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (data.length < HEADER) return undefined;
  const length = data.readUInt32LE(0);
  const program = data.subarray(HEADER + length);
  if (HEADER + length > data.length || program.length === 0 || program.length % 8 !== 0) return undefined;
  return data.subarray(HEADER, HEADER + length).equals(json) ? program : undefined;
}

function writeCached(file: string, json: Buffer, program: Buffer): void {
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(json.length, 0);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(temp, Buffer.concat([header, json, program]), { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch {
    // A cache that cannot be written (read-only run root, full tmpfs) costs the next run a compile, nothing more.
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      // Nothing was made (the directory itself is not there).
    }
  }
}

export interface SeccompFilter {
  program: Buffer;
  /** True when the program came from the cache (no compile this time). */
  cached: boolean;
}

/** The BPF program for a container's seccomp section: from the cache under `cacheDir`, else compiled and kept. */
export function seccompFilterFor(seccomp: LinuxSeccomp, cacheDir: string): SeccompFilter {
  const text = JSON.stringify(seccomp);
  const json = Buffer.from(text);
  const file = path.join(cacheDir, `${nameHash(text)}.bpf`);
  const cached = readCached(file, json);
  if (cached !== undefined) return { program: cached, cached: true };
  const program = compileSeccomp(seccomp).toBuffer();
  writeCached(file, json, program);
  return { program, cached: false };
}

/** How --explain says where a filter came from. */
export function describeSeccompFilter(filter: SeccompFilter): string {
  const size = `a BPF filter of ${filter.program.length / 8} instructions`;
  return filter.cached ? `${size}, compiled by an earlier run for the same profile (kept under the run root)` : `compile the seccomp profile into ${size}`;
}

/** Where the engine keeps compiled filters for a run root. */
export function seccompCacheDir(runRoot: string): string {
  return path.join(runRoot, 'seccomp');
}
