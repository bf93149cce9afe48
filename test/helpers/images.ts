/**
 * Test images built offline with our own tar writer and pushed to a local
 * registry with skopeo:
 *
 * - busybox        one layer: Debian's static /bin/busybox, a symlink per applet,
 *                  /etc/passwd and /etc/group (root, nobody, app 1000:1000 in group
 *                  extra 1001), /tmp 1777, /root, /home/app. OCI media types.
 * - busyboxDocker  the same image converted to Docker schema 2 by skopeo.
 * - busyboxZstd    the same layer compressed with zstd (OCI tar+zstd).
 * - layered        busybox + two layers exercising whiteouts, an opaque directory,
 *                  a directory replaced by a file, hardlinks, symlinks, a device,
 *                  a fifo, a setuid file and a binary xattr. LAYERED_EXPECTED says
 *                  what the merged view must look like.
 * - multiPlatform  an OCI index for linux/amd64, linux/arm64 and linux/arm/v7 (and
 *                  the host's platform if it is none of those). The host's entry is
 *                  busybox plus a layer with /platform.txt; the others carry only
 *                  /platform.txt ("linux/arm64" and so on).
 *
 * Everything is deterministic (fixed mtimes and creation dates), so digests
 * only change when /bin/busybox does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256Digest, type Digest } from '../../src/common/digest.js';
import { buildTar, type TarEntry } from '../../src/snapshot/tar-writer.js';
import { sharedRegistry, type RegistryCredentials } from './registry.js';

export const BUSYBOX_PATH = '/bin/busybox';
/** Fixed mtime of every entry (2024-01-01T00:00:00Z), for reproducible digests. */
export const FIXED_MTIME = 1_704_067_200;
const CREATED = '2024-01-01T00:00:00Z';
export const IMAGE_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface LayerInfo {
  mediaType: string;
  /** Digest of the compressed blob. */
  digest: Digest;
  size: number;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids). */
  diffId: Digest;
}

export interface PushedImage {
  /** `HOST/REPO:TAG`. */
  ref: string;
  repository: string;
  tag: string;
  /** Manifest digest as the registry serves it. */
  digest: Digest;
  /** Manifest media type. */
  mediaType: string;
  configDigest: Digest;
  layers: LayerInfo[];
  platform: Platform;
}

export interface PushedIndex {
  ref: string;
  repository: string;
  tag: string;
  digest: Digest;
  mediaType: string;
  manifests: Array<{ platform: Platform; digest: Digest; mediaType: string; configDigest: Digest; layers: LayerInfo[] }>;
}

export interface TestImages {
  /** `127.0.0.1:PORT` of the registry holding them. */
  registry: string;
  busybox: PushedImage;
  busyboxDocker: PushedImage;
  busyboxZstd: PushedImage;
  layered: PushedImage;
  multiPlatform: PushedIndex;
}

/** The OCI platform of this machine: x64 -> amd64, arm64 -> arm64, arm -> arm/v7. */
export function hostPlatform(): Platform {
  const map: Record<string, Platform> = {
    x64: { os: 'linux', architecture: 'amd64' },
    arm64: { os: 'linux', architecture: 'arm64' },
    arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
    ia32: { os: 'linux', architecture: '386' },
    ppc64: { os: 'linux', architecture: 'ppc64le' },
    s390x: { os: 'linux', architecture: 's390x' },
    riscv64: { os: 'linux', architecture: 'riscv64' },
  };
  return map[process.arch] ?? { os: 'linux', architecture: process.arch };
}

export function platformString(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`;
}

// ---------------------------------------------------------------- layers

type Entry = TarEntry & { body?: Buffer | string };

const dir = (name: string, mode = 0o755, extra: Partial<TarEntry> = {}): Entry => ({
  name,
  type: 'directory',
  mode,
  mtime: FIXED_MTIME,
  ...extra,
});
const file = (name: string, body: string | Buffer, mode = 0o644, extra: Partial<TarEntry> = {}): Entry => ({
  name,
  body,
  mode,
  mtime: FIXED_MTIME,
  ...extra,
});
const symlink = (name: string, linkname: string): Entry => ({ name, type: 'symlink', linkname, mtime: FIXED_MTIME });
const hardlink = (name: string, linkname: string): Entry => ({ name, type: 'hardlink', linkname, mtime: FIXED_MTIME });

export const ETC_PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

export const ETC_GROUP = ['root:x:0:', 'app:x:1000:', 'extra:x:1001:app', 'nogroup:x:65534:', ''].join('\n');

/** Applet paths from `busybox --list-full`, e.g. `bin/sh`, `usr/bin/wget`. */
export function busyboxApplets(): string[] {
  const out = spawnSync(BUSYBOX_PATH, ['--list-full'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${BUSYBOX_PATH} --list-full failed: ${out.stderr || out.error}`);
  return out.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'bin/busybox')
    .sort();
}

/** The uncompressed busybox root file system layer. */
export function buildBusyboxLayerTar(): Buffer {
  const applets = busyboxApplets();
  const entries: Entry[] = [
    dir('bin'),
    file('bin/busybox', readFileSync(BUSYBOX_PATH), 0o755),
    dir('dev'),
    dir('etc'),
    file('etc/passwd', ETC_PASSWD),
    file('etc/group', ETC_GROUP),
    file('etc/os-release', 'NAME="didactic test busybox"\nID=didactic-busybox\n'),
    dir('home'),
    dir('home/app', 0o755, { uid: 1000, gid: 1000 }),
    dir('proc'),
    dir('root', 0o700),
    dir('sbin'),
    dir('sys'),
    dir('tmp', 0o1777),
    dir('usr'),
    dir('usr/bin'),
    dir('usr/sbin'),
    dir('var'),
  ];
  for (const applet of applets) entries.push(symlink(applet, '/bin/busybox'));
  return buildTar(entries);
}

/** A layer holding only /platform.txt naming the platform. */
export function buildPlatformLayerTar(platform: Platform): Buffer {
  return buildTar([file('platform.txt', `${platformString(platform)}\n`)]);
}

/** The binary value of the user.didactic xattr on /data/xattr.bin in the layered image. */
export const LAYERED_XATTR_VALUE = Buffer.from([0x00, 0x01, 0x02, 0xff, 0x0a, 0x3d]);

/** The two layers the layered image puts on top of busybox. */
export function buildLayeredLayerTars(): [Buffer, Buffer] {
  const second = buildTar([
    dir('data'),
    file('data/keep.txt', 'kept from layer 2\n'),
    file('data/remove-me.txt', 'removed by layer 3\n'),
    dir('data/dir-removed'),
    file('data/dir-removed/inner.txt', 'removed with its directory\n'),
    file('data/changed.txt', 'v1\n'),
    file('data/was-file', 'a file in layer 2\n'),
    dir('data/was-dir'),
    file('data/was-dir/child.txt', 'child of a directory that becomes a file\n'),
    { name: 'data/fifo', type: 'fifo', mode: 0o644, mtime: FIXED_MTIME },
    file('data/setuid', 'setuid\n', 0o4755),
    file('data/xattr.bin', 'has a binary xattr\n', 0o644, { xattrs: { 'user.didactic': LAYERED_XATTR_VALUE } }),
    dir('dev'),
    { name: 'dev/test-null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666, mtime: FIXED_MTIME },
    dir('home'),
    dir('home/app', 0o755, { uid: 1000, gid: 1000 }),
    file('home/app/owned.txt', 'owned by app\n', 0o600, { uid: 1000, gid: 1000 }),
    dir('links'),
    file('links/target.txt', 'hardlink target\n', 0o640, { uid: 1000, gid: 1000 }),
    hardlink('links/hard.txt', 'links/target.txt'),
    symlink('links/rel-sym', 'target.txt'),
    symlink('links/abs-sym', '/data/keep.txt'),
    symlink('links/dangling', '/nonexistent'),
    dir('opaque'),
    file('opaque/old-a.txt', 'hidden by the opaque marker\n'),
    dir('opaque/sub'),
    file('opaque/sub/old-b.txt', 'hidden by the opaque marker\n'),
  ]);
  const third = buildTar([
    dir('bin'),
    file('bin/.wh.wget', ''),
    dir('data'),
    file('data/.wh.remove-me.txt', ''),
    file('data/.wh.dir-removed', ''),
    file('data/changed.txt', 'v2\n'),
    symlink('data/was-file', 'keep.txt'),
    file('data/was-dir', 'now a file\n'),
    file('data/added.txt', 'added in layer 3\n'),
    dir('links'),
    hardlink('links/hard-in-3.txt', 'data/added.txt'),
    dir('opaque'),
    file('opaque/.wh..wh..opq', ''),
    file('opaque/new.txt', 'new in layer 3\n'),
  ]);
  return [second, third];
}

export interface ExpectedPath {
  type: 'file' | 'directory' | 'symlink' | 'char-device' | 'fifo';
  content?: string;
  linkname?: string;
  /** Permission bits (mode & 0o7777). */
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  /** xattr name -> value in base64 (Node cannot read xattrs; check with another tool). */
  xattrs?: Record<string, string>;
}

export interface ExpectedView {
  present: Record<string, ExpectedPath>;
  absent: string[];
  /** Pairs of paths that must be the same inode. */
  hardlinks: Array<[string, string]>;
}

/** What the merged root file system of the layered image must look like (paths relative to /). */
export const LAYERED_EXPECTED: ExpectedView = {
  present: {
    'bin/busybox': { type: 'file', mode: 0o755 },
    'bin/sh': { type: 'symlink', linkname: '/bin/busybox' },
    'data': { type: 'directory', mode: 0o755 },
    'data/keep.txt': { type: 'file', content: 'kept from layer 2\n', mode: 0o644, uid: 0, gid: 0 },
    'data/changed.txt': { type: 'file', content: 'v2\n' },
    'data/was-file': { type: 'symlink', linkname: 'keep.txt' },
    'data/was-dir': { type: 'file', content: 'now a file\n' },
    'data/added.txt': { type: 'file', content: 'added in layer 3\n' },
    'data/fifo': { type: 'fifo', mode: 0o644 },
    'data/setuid': { type: 'file', mode: 0o4755, content: 'setuid\n' },
    'data/xattr.bin': {
      type: 'file',
      content: 'has a binary xattr\n',
      xattrs: { 'user.didactic': LAYERED_XATTR_VALUE.toString('base64') },
    },
    'dev/test-null': { type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 },
    'home/app': { type: 'directory', uid: 1000, gid: 1000 },
    'home/app/owned.txt': { type: 'file', content: 'owned by app\n', mode: 0o600, uid: 1000, gid: 1000 },
    'links/target.txt': { type: 'file', content: 'hardlink target\n', mode: 0o640, uid: 1000, gid: 1000 },
    'links/hard.txt': { type: 'file', content: 'hardlink target\n', mode: 0o640, uid: 1000, gid: 1000 },
    'links/hard-in-3.txt': { type: 'file', content: 'added in layer 3\n' },
    'links/rel-sym': { type: 'symlink', linkname: 'target.txt' },
    'links/abs-sym': { type: 'symlink', linkname: '/data/keep.txt' },
    'links/dangling': { type: 'symlink', linkname: '/nonexistent' },
    'opaque': { type: 'directory' },
    'opaque/new.txt': { type: 'file', content: 'new in layer 3\n' },
    'tmp': { type: 'directory', mode: 0o1777 },
  },
  absent: [
    'bin/wget',
    'bin/.wh.wget',
    'data/remove-me.txt',
    'data/.wh.remove-me.txt',
    'data/dir-removed',
    'data/.wh.dir-removed',
    'data/was-dir/child.txt',
    'opaque/old-a.txt',
    'opaque/sub',
    'opaque/.wh..wh..opq',
  ],
  hardlinks: [
    ['links/target.txt', 'links/hard.txt'],
    ['data/added.txt', 'links/hard-in-3.txt'],
  ],
};

/**
 * Compares a directory holding a merged root file system with an expected
 * view; returns one line per difference (empty when it matches). Extended
 * attributes are not checked (Node has no getxattr).
 */
export function diffMergedView(root: string, expected: ExpectedView = LAYERED_EXPECTED): string[] {
  const problems: string[] = [];
  const typeOf = (st: Stats): ExpectedPath['type'] | 'other' =>
    st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char-device' : st.isFIFO() ? 'fifo' : 'other';
  for (const [path, want] of Object.entries(expected.present)) {
    const full = join(root, path);
    let st;
    try {
      st = lstatSync(full);
    } catch {
      problems.push(`${path}: missing`);
      continue;
    }
    const type = typeOf(st);
    if (type !== want.type) {
      problems.push(`${path}: is ${type}, want ${want.type}`);
      continue;
    }
    if (want.mode !== undefined && (st.mode & 0o7777) !== want.mode) {
      problems.push(`${path}: mode ${(st.mode & 0o7777).toString(8)}, want ${want.mode.toString(8)}`);
    }
    if (want.uid !== undefined && st.uid !== want.uid) problems.push(`${path}: uid ${st.uid}, want ${want.uid}`);
    if (want.gid !== undefined && st.gid !== want.gid) problems.push(`${path}: gid ${st.gid}, want ${want.gid}`);
    if (want.content !== undefined && readFileSync(full, 'utf8') !== want.content) {
      problems.push(`${path}: content ${JSON.stringify(readFileSync(full, 'utf8'))}, want ${JSON.stringify(want.content)}`);
    }
    if (want.linkname !== undefined && readlinkSync(full) !== want.linkname) {
      problems.push(`${path}: points to ${readlinkSync(full)}, want ${want.linkname}`);
    }
    if (want.devmajor !== undefined) {
      // st.rdev as the kernel encodes it (new_encode_dev-compatible for small numbers).
      const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn);
      const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n));
      if (major !== want.devmajor || minor !== want.devminor) {
        problems.push(`${path}: device ${major},${minor}, want ${want.devmajor},${want.devminor}`);
      }
    }
  }
  for (const path of expected.absent) {
    try {
      lstatSync(join(root, path));
      problems.push(`${path}: present, want absent`);
    } catch {
      // absent, as it should be
    }
  }
  for (const [a, b] of expected.hardlinks) {
    try {
      const sa = lstatSync(join(root, a));
      const sb = lstatSync(join(root, b));
      if (sa.ino !== sb.ino || sa.dev !== sb.dev) problems.push(`${a} and ${b}: not the same inode`);
    } catch {
      problems.push(`${a} and ${b}: missing`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- OCI layout

export type Compression = 'gzip' | 'zstd';

export function compressLayer(tar: Buffer, compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(tar);
  const out = spawnSync('zstd', ['-q', '-c', '-3', '--no-progress'], { input: tar, maxBuffer: 1 << 30 });
  if (out.status !== 0) throw new Error(`zstd failed: ${out.stderr?.toString() || out.error}`);
  return out.stdout;
}

/** A directory in the OCI image layout: oci-layout, index.json, blobs/sha256/. */
export class OciLayout {
  readonly dir: string;
  private readonly refs: Descriptor[] = [];

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    this.writeIndex();
  }

  addBlob(data: Buffer | string, mediaType: string): Descriptor {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256Digest(bytes);
    writeFileSync(join(this.dir, 'blobs', 'sha256', digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length };
  }

  addJson(value: unknown, mediaType: string): Descriptor {
    return this.addBlob(JSON.stringify(value), mediaType);
  }

  /** Names a manifest or index in index.json with org.opencontainers.image.ref.name. */
  tag(descriptor: Descriptor, tag: string): void {
    this.refs.push({ ...descriptor, annotations: { 'org.opencontainers.image.ref.name': tag } });
    this.writeIndex();
  }

  private writeIndex(): void {
    writeFileSync(
      join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: this.refs }),
    );
  }
}

export interface BuiltImage {
  manifest: Descriptor;
  configDigest: Digest;
  layers: LayerInfo[];
  platform: Platform;
}

/** Writes config, layers and manifest of a single-platform OCI image into a layout. */
export function addImage(
  layout: OciLayout,
  layerTars: Array<{ tar: Buffer; compression?: Compression }>,
  options: { platform?: Platform; cmd?: string[]; env?: string[]; history?: string[] } = {},
): BuiltImage {
  const platform = options.platform ?? hostPlatform();
  const layers: LayerInfo[] = layerTars.map(({ tar, compression = 'gzip' }) => {
    const mediaType = compression === 'gzip' ? MEDIA_TYPES.ociLayerGzip : MEDIA_TYPES.ociLayerZstd;
    const blob = layout.addBlob(compressLayer(tar, compression), mediaType);
    return { mediaType, digest: blob.digest, size: blob.size, diffId: sha256Digest(tar) };
  });
  const config = {
    created: CREATED,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: options.env ?? [IMAGE_PATH_ENV], Cmd: options.cmd ?? ['sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: CREATED, created_by: options.history?.[i] ?? `didactic test layer ${i + 1}` })),
  };
  const configBlob = layout.addJson(config, MEDIA_TYPES.ociConfig);
  const manifest = layout.addJson(
    {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: configBlob.digest, size: configBlob.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    },
    MEDIA_TYPES.ociManifest,
  );
  return { manifest, configDigest: configBlob.digest, layers, platform };
}

/** The platforms of the multi-platform index: amd64, arm64, arm/v7, plus the host if missing. */
export function multiPlatformList(): Platform[] {
  const list: Platform[] = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
    { os: 'linux', architecture: 'arm', variant: 'v7' },
  ];
  const host = hostPlatform();
  if (!list.some((p) => platformString(p) === platformString(host))) list.push(host);
  return list;
}

export interface TestLayout {
  dir: string;
  /** Tag in the layout -> what was built. */
  images: { busybox: BuiltImage; busyboxZstd: BuiltImage; layered: BuiltImage };
  multiPlatform: { index: Descriptor; manifests: BuiltImage[] };
}

/**
 * Writes all test images into one OCI layout at `dir`, tagged busybox,
 * busybox-zstd, layered and multiplatform.
 */
export function writeTestImageLayout(dir: string): TestLayout {
  const layout = new OciLayout(dir);
  const busyboxTar = buildBusyboxLayerTar();
  const busybox = addImage(layout, [{ tar: busyboxTar }], { history: ['busybox root file system'] });
  layout.tag(busybox.manifest, 'busybox');
  const busyboxZstd = addImage(layout, [{ tar: busyboxTar, compression: 'zstd' }]);
  layout.tag(busyboxZstd.manifest, 'busybox-zstd');
  const [second, third] = buildLayeredLayerTars();
  const layered = addImage(layout, [{ tar: busyboxTar }, { tar: second }, { tar: third }]);
  layout.tag(layered.manifest, 'layered');

  const host = platformString(hostPlatform());
  const manifests = multiPlatformList().map((platform) => {
    const tars = [{ tar: buildPlatformLayerTar(platform) }];
    if (platformString(platform) === host) tars.unshift({ tar: busyboxTar });
    return addImage(layout, tars, { platform, cmd: platformString(platform) === host ? ['sh'] : ['/platform.txt'] });
  });
  const index = layout.addJson(
    {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: manifests.map((m) => ({ ...m.manifest, platform: m.platform })),
    },
    MEDIA_TYPES.ociIndex,
  );
  layout.tag(index, 'multiplatform');
  return { dir, images: { busybox, busyboxZstd, layered }, multiPlatform: { index, manifests } };
}

// ---------------------------------------------------------------- pushing

export interface PushOptions {
  format?: 'oci' | 'v2s2';
  all?: boolean;
  credentials?: RegistryCredentials;
}

/** `skopeo copy oci:DIR:TAG docker://DEST`; resolves to the digest skopeo pushed. */
export async function pushWithSkopeo(layoutDir: string, tag: string, dest: string, options: PushOptions = {}): Promise<Digest> {
  const digestFile = join(layoutDir, `.digest-${tag}-${options.format ?? 'same'}`);
  const args = ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', '--digestfile', digestFile];
  if (options.format) args.push('--format', options.format);
  if (options.all) args.push('--all');
  if (options.credentials) args.push('--dest-creds', `${options.credentials.user}:${options.credentials.password}`);
  args.push(`oci:${layoutDir}:${tag}`, `docker://${dest}`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      // Never echo the arguments: they may hold credentials.
      if (code === 0) resolve();
      else reject(new Error(`skopeo copy ${tag} to ${dest} failed (${code}): ${stderr.trim()}`));
    });
  });
  return readFileSync(digestFile, 'utf8').trim() as Digest;
}

/** Fetches a manifest from a registry over plain HTTP. */
export async function fetchManifest(
  host: string,
  repository: string,
  reference: string,
  credentials?: RegistryCredentials,
): Promise<{ mediaType: string; digest: Digest; body: Buffer; json: any }> {
  const headers: Record<string, string> = {
    accept: [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList].join(', '),
  };
  if (credentials) headers['authorization'] = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
  const response = await fetch(`http://${host}/v2/${repository}/manifests/${reference}`, { headers });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`GET manifest ${repository}:${reference}: HTTP ${response.status}`);
  return {
    mediaType: response.headers.get('content-type') ?? '',
    digest: sha256Digest(body),
    body,
    json: JSON.parse(body.toString('utf8')),
  };
}

/** Fetches a blob from a registry over plain HTTP (following the storage redirect if any). */
export async function fetchBlob(
  host: string,
  repository: string,
  digest: Digest,
  credentials?: RegistryCredentials,
): Promise<Buffer> {
  const headers: Record<string, string> = {};
  if (credentials) headers['authorization'] = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
  const response = await fetch(`http://${host}/v2/${repository}/blobs/${digest}`, { headers });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`GET blob ${repository}@${digest}: HTTP ${response.status}`);
  return body;
}

export const TEST_REPOSITORIES = {
  busybox: 'didactic/busybox',
  busyboxDocker: 'didactic/busybox-docker',
  busyboxZstd: 'didactic/busybox-zstd',
  layered: 'didactic/layered',
  multiPlatform: 'didactic/multiplatform',
} as const;

/** Builds every test image and pushes it to the registry at `registryHost` (`127.0.0.1:PORT`). */
export async function buildTestImages(
  registryHost: string,
  options: { credentials?: RegistryCredentials; tag?: string } = {},
): Promise<TestImages> {
  const tag = options.tag ?? 'latest';
  const dir = mkdtempSync(join(tmpdir(), 'dctr-images-'));
  try {
    const layout = writeTestImageLayout(dir);
    const push = (name: string, repo: string, extra: PushOptions = {}) =>
      pushWithSkopeo(dir, name, `${registryHost}/${repo}:${tag}`, { ...extra, credentials: options.credentials });
    const [busyboxDigest, dockerDigest, zstdDigest, layeredDigest, indexDigest] = await Promise.all([
      push('busybox', TEST_REPOSITORIES.busybox),
      push('busybox', TEST_REPOSITORIES.busyboxDocker, { format: 'v2s2' }),
      push('busybox-zstd', TEST_REPOSITORIES.busyboxZstd),
      push('layered', TEST_REPOSITORIES.layered),
      push('multiplatform', TEST_REPOSITORIES.multiPlatform, { all: true }),
    ]);
    const pushed = (repository: string, built: BuiltImage, digest: Digest): PushedImage => ({
      ref: `${registryHost}/${repository}:${tag}`,
      repository,
      tag,
      digest,
      mediaType: MEDIA_TYPES.ociManifest,
      configDigest: built.configDigest,
      layers: built.layers,
      platform: built.platform,
    });
    // skopeo rewrites the manifest for v2s2; read back what the registry holds.
    const docker = await fetchManifest(registryHost, TEST_REPOSITORIES.busyboxDocker, dockerDigest, options.credentials);
    const busyboxDocker: PushedImage = {
      ...pushed(TEST_REPOSITORIES.busyboxDocker, layout.images.busybox, dockerDigest),
      mediaType: docker.json.mediaType,
      configDigest: docker.json.config.digest,
      layers: (docker.json.layers as Descriptor[]).map((l, i) => ({
        mediaType: l.mediaType,
        digest: l.digest,
        size: l.size,
        diffId: layout.images.busybox.layers[i]!.diffId,
      })),
    };
    return {
      registry: registryHost,
      busybox: pushed(TEST_REPOSITORIES.busybox, layout.images.busybox, busyboxDigest),
      busyboxDocker,
      busyboxZstd: pushed(TEST_REPOSITORIES.busyboxZstd, layout.images.busyboxZstd, zstdDigest),
      layered: pushed(TEST_REPOSITORIES.layered, layout.images.layered, layeredDigest),
      multiPlatform: {
        ref: `${registryHost}/${TEST_REPOSITORIES.multiPlatform}:${tag}`,
        repository: TEST_REPOSITORIES.multiPlatform,
        tag,
        digest: indexDigest,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: layout.multiPlatform.manifests.map((m) => ({
          platform: m.platform,
          digest: m.manifest.digest,
          mediaType: m.manifest.mediaType,
          configDigest: m.configDigest,
          layers: m.layers,
        })),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let shared: Promise<TestImages> | undefined;

/**
 * The test images of this run: from DCTR_TEST_IMAGES (JSON written by
 * test/run.ts) when set, else built once per process into sharedRegistry().
 */
export function sharedImages(): Promise<TestImages> {
  shared ??= (async () => {
    const fromEnv = process.env['DCTR_TEST_IMAGES'];
    if (fromEnv) return JSON.parse(fromEnv) as TestImages;
    const registry = await sharedRegistry();
    return buildTestImages(registry.host);
  })();
  return shared;
}
