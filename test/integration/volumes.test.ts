/**
 * Volumes end to end through the CLI, as root, on the real kernel: named
 * volumes shared between containers, copy-up with owners and modes, :ro,
 * --tmpfs with --read-only, anonymous volumes going with --rm, volume rm
 * refused while in use, and hostile images whose volume paths are symlinks
 * to / or /etc: the mount must land inside the container (or be refused),
 * never on the host. After each test nothing is mounted below the test root
 * and the host's mount table is as before.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256Digest } from '../../src/common/digest.js';
import { buildTar } from '../../src/snapshot/tar-writer.js';
import { buildBusyboxLayerTar, FIXED_MTIME, hostPlatform, IMAGE_PATH_ENV, MEDIA_TYPES, OciLayout, pushWithSkopeo, sharedImages } from '../helpers/images.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;
const hasRunc = spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;


let root: TempRoot;
let busybox: string;
let hostileRoot: string;
let hostileEtc: string;
let counter = 0;

const cli = (args: string[]): Promise<CliResult> => runCli(root, args);

const show = (r: CliResult) => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

async function ok(args: string[]): Promise<string> {
  const result = await cli(args);
  assert.equal(result.status, 0, `${args.join(' ')}: ${show(result)}`);
  return result.stdout;
}

/**
 * The host's mounts on the paths a stray volume mount would land on (/, /etc,
 * /home, /tmp itself), to compare before and after. Other tests running at
 * the same time mount below their own temp dirs: those are not looked at.
 */
function hostMounts(): string[] {
  const watched = (point: string) => point === '/' || point === '/tmp' || /^\/(etc|home|root|usr|bin|var)(\/|$)/.test(point);
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ').slice(3, 5).join(' '))
    .filter((rootAndPoint) => watched(rootAndPoint.split(' ')[1]!))
    .sort();
}

/** Everything about the host's /etc a stray mount or write would change. */
function etcFingerprint(): string {
  const st = fs.statSync('/etc');
  return JSON.stringify([st.ino, st.dev, st.mtimeMs, fs.readdirSync('/etc').sort()]);
}

let mountsBefore: string[];
let etcBefore: string;

function assertHostClean(): void {
  assert.deepEqual(mountsBelow(root.dir), [], 'mounts left below the test root');
  assert.deepEqual(hostMounts(), mountsBefore, 'the host mount table changed');
  assert.equal(etcFingerprint(), etcBefore, "the host's /etc changed");
}

/** Pushes a busybox image with one more layer and config.Volumes to the shared registry; returns its ref. */
async function pushHostileImage(registry: string, repo: string, extra: Parameters<typeof buildTar>[0], volumes: string[]): Promise<string> {
  const dir = fs.mkdtempSync(path.join(root.dir, 'layout-'));
  try {
    const layout = new OciLayout(dir);
    const tars = [buildBusyboxLayerTar(), buildTar(extra)];
    const layers = tars.map((tar) => ({ blob: layout.addBlob(gzipSync(tar), MEDIA_TYPES.ociLayerGzip), diffId: sha256Digest(tar) }));
    const platform = hostPlatform();
    const config = layout.addJson(
      {
        created: '2024-01-01T00:00:00Z',
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: { Env: [IMAGE_PATH_ENV], Cmd: ['sh'], WorkingDir: '/', Volumes: Object.fromEntries(volumes.map((v) => [v, {}])) },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      },
      MEDIA_TYPES.ociConfig,
    );
    const manifest = layout.addJson(
      {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: l.blob.mediaType, digest: l.blob.digest, size: l.blob.size })),
      },
      MEDIA_TYPES.ociManifest,
    );
    layout.tag(manifest, 'latest');
    const ref = `${registry}/${repo}:latest`;
    await pushWithSkopeo(dir, 'latest', ref);
    return ref;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const name = () => `vol-test-${process.pid}-${++counter}`;

describe('volumes', { skip }, () => {
  before(async () => {
    root = createTempRoot('dctr-volumes-');
    const images = await sharedImages();
    busybox = images.busybox.ref;
    const link = (entry: string, target: string) => ({ name: entry, type: 'symlink' as const, linkname: target, mtime: FIXED_MTIME });
    hostileRoot = await pushHostileImage(images.registry, 'didactic/hostile-volume-root', [link('vol-root', '/'), link('up', '../../../..')], ['/vol-root']);
    hostileEtc = await pushHostileImage(
      images.registry,
      'didactic/hostile-volume-etc',
      [link('vol-etc', '/etc'), link('rel-etc', '../../../../../etc')],
      ['/vol-etc'],
    );
    for (const ref of [busybox, hostileRoot, hostileEtc]) await ok(['pull', '-q', ref]);
    mountsBefore = hostMounts();
    etcBefore = etcFingerprint();
  });
  after(() => root?.dispose());

  test('data written by one container is read by the next through a named volume; volume ls and inspect', async () => {
    await ok(['run', '--rm', '-v', 'shared:/data', busybox, 'sh', '-c', 'echo written-by-first > /data/note']);
    assert.equal(await ok(['run', '--rm', '-v', 'shared:/data', busybox, 'cat', '/data/note']), 'written-by-first\n');
    assert.equal(await ok(['run', '--rm', '--mount', 'type=volume,source=shared,target=/elsewhere,readonly', busybox, 'cat', '/elsewhere/note']), 'written-by-first\n');
    if (hasRunc) {
      // The same config.json mounts under runc.
      assert.equal(await ok(['run', '--rm', '--runtime', 'runc', '-v', 'shared:/data:ro', '--tmpfs', '/t', busybox, 'sh', '-c', 'cat /data/note; grep -c " /t tmpfs" /proc/mounts']), 'written-by-first\n1\n');
    }
    assert.match(await ok(['volume', 'ls']), /local\s+shared/);
    const [inspect] = JSON.parse(await ok(['volume', 'inspect', 'shared'])) as Array<Record<string, unknown>>;
    assert.equal(inspect!.Name, 'shared');
    assert.equal(inspect!.Driver, 'local');
    assert.equal(inspect!.Scope, 'local');
    assert.equal(inspect!.Mountpoint, path.join(root.root, 'volumes', 'shared', '_data'));
    assert.equal(fs.readFileSync(path.join(inspect!.Mountpoint as string, 'note'), 'utf8'), 'written-by-first\n');
    assertHostClean();
  });

  test('copy-up: a new volume over /home/app gets its content, owner and mode', async () => {
    const out = await ok(['run', '--rm', '-v', 'home:/home/app', busybox, 'stat', '-c', '%u:%g %a', '/home/app']);
    assert.equal(out, '1000:1000 755\n');
    const data = path.join(root.root, 'volumes', 'home', '_data');
    assert.equal(fs.statSync(data).uid, 1000);
    assert.equal(fs.statSync(data).gid, 1000);
    // The app user can write into its own home on the volume.
    await ok(['run', '--rm', '-u', 'app', '-v', 'home:/home/app', busybox, 'touch', '/home/app/mine']);
    assert.equal(fs.statSync(path.join(data, 'mine')).uid, 1000);
    // /etc with its files is copied too; the volume is not refilled once it has data.
    assert.equal(await ok(['run', '--rm', '-v', 'etcvol:/etc', busybox, 'sh', '-c', 'grep -c app /etc/passwd; stat -c %a /etc/passwd']), '1\n644\n');
    assertHostClean();
  });

  test(':ro refuses writes (EROFS) on volumes and binds; rw binds write through to the host', async () => {
    const denied = await cli(['run', '--rm', '-v', 'rovol:/data:ro', busybox, 'touch', '/data/x']);
    assert.notEqual(denied.status, 0, show(denied));
    assert.match(denied.stderr, /Read-only file system/);
    const host = path.join(root.dir, 'bind-src');
    const created = await ok(['run', '--rm', '-v', `${host}:/bind`, busybox, 'sh', '-c', 'echo from-container > /bind/f']);
    assert.equal(created, '');
    assert.equal(fs.readFileSync(path.join(host, 'f'), 'utf8'), 'from-container\n', '-v made the missing source and the write reached it');
    const roBind = await cli(['run', '--rm', '--mount', `type=bind,source=${host},target=/bind,readonly`, busybox, 'sh', '-c', 'cat /bind/f; echo x > /bind/f']);
    assert.equal(roBind.stdout, 'from-container\n');
    assert.match(roBind.stderr, /Read-only file system/);
    assert.equal(fs.readFileSync(path.join(host, 'f'), 'utf8'), 'from-container\n');
    const missing = await cli(['run', '--rm', '--mount', `type=bind,source=${path.join(root.dir, 'nope')},target=/x`, busybox, 'true']);
    assert.equal(missing.status, 125, show(missing));
    assert.match(missing.stderr, /bind source path does not exist/);
    assert.equal(fs.existsSync(path.join(root.dir, 'nope')), false);
    assertHostClean();
  });

  test('--read-only root with --tmpfs and a volume: both writable, the root not', async () => {
    const result = await cli([
      'run', '--rm', '--read-only', '--tmpfs', '/scratch:size=1m,mode=1777', '-v', 'rw-under-ro:/data', busybox,
      'sh', '-c', 'echo t > /scratch/f && cat /scratch/f && echo v > /data/f && cat /data/f && stat -c %a /scratch && grep " /scratch " /proc/mounts; touch /rootfile',
    ]);
    assert.notEqual(result.status, 0, show(result));
    const lines = result.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['t', 'v', '1777']);
    assert.match(lines[3]!, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec.*size=1024k/);
    assert.match(result.stderr, /Read-only file system/);
    assertHostClean();
  });

  test('anonymous volumes: -v PATH and image VOLUMEs go with --rm, stay without it; volume rm refused while in use', async () => {
    const before = JSON.parse(await ok(['volume', 'ls', '--format', 'json'])) as Array<{ Name: string }>;
    await ok(['run', '--rm', '-v', '/anon', busybox, 'sh', '-c', 'echo x > /anon/f']);
    assert.deepEqual(JSON.parse(await ok(['volume', 'ls', '--format', 'json'])), before, 'run --rm removed the anonymous volume');
    const keeper = name();
    await ok(['run', '--name', keeper, '-v', '/anon', '-v', 'inuse:/inuse', busybox, 'true']);
    const now = JSON.parse(await ok(['volume', 'ls', '--format', 'json'])) as Array<{ Name: string; Labels: Record<string, string> }>;
    const anon = now.filter((v) => /^[0-9a-f]{64}$/.test(v.Name) && !before.some((b) => b.Name === v.Name));
    assert.equal(anon.length, 1, JSON.stringify(now));
    const refused = await cli(['volume', 'rm', 'inuse']);
    assert.equal(refused.status, 1, show(refused));
    assert.match(refused.stderr, /volume is in use by 1 container\(s\): vol-test/);
    assert.ok(fs.existsSync(path.join(root.root, 'volumes', 'inuse', '_data')));
    const pruned = JSON.parse(await ok(['volume', 'prune', '--format', 'json'])) as { VolumesDeleted: string[] };
    assert.ok(!pruned.VolumesDeleted.includes(anon[0]!.Name), 'prune left the volume of an existing container');
    assert.equal(await ok(['volume', 'rm', '-f', 'inuse']), 'inuse\n');
    assert.equal(fs.existsSync(path.join(root.root, 'volumes', 'inuse')), false);
    assertHostClean();
  });

  test('--volumes-from shares the other container\'s volumes, read-only when asked', async () => {
    const first = name();
    await ok(['run', '--name', first, '-v', 'from-src:/shared', busybox, 'sh', '-c', 'echo hi > /shared/f']);
    assert.equal(await ok(['run', '--rm', '--volumes-from', first, busybox, 'cat', '/shared/f']), 'hi\n');
    const ro = await cli(['run', '--rm', '--volumes-from', `${first}:ro`, busybox, 'touch', '/shared/g']);
    assert.match(ro.stderr, /Read-only file system/);
    assertHostClean();
  });

  test('hostile image: a VOLUME that is a symlink to / is refused, nothing mounted on the host', async () => {
    const result = await cli(['run', '--rm', hostileRoot, 'true']);
    assert.equal(result.status, 125, show(result));
    assert.match(result.stderr, /resolves to the container's root/);
    const viaUp = await cli(['run', '--rm', '-v', 'upvol:/up', busybox, 'true']);
    assert.equal(viaUp.status, 0, show(viaUp)); // busybox has no /up: a plain new directory
    const upLink = await cli(['run', '--rm', '-v', 'upvol2:/up', hostileRoot, 'true']);
    assert.equal(upLink.status, 125, show(upLink));
    assertHostClean();
  });

  test('hostile image: a VOLUME or -v target that is a symlink to /etc lands on the container\'s /etc, never the host\'s', async () => {
    const marker = `pwned-${process.pid}`;
    const volumesBefore = await ok(['volume', 'ls', '-q']);
    const result = await cli(['run', '--rm', hostileEtc, 'sh', '-c', `touch /vol-etc/${marker} && ls /etc/${marker} && grep -c ^ID=didactic /etc/os-release`]);
    assert.equal(result.status, 0, show(result));
    assert.equal(result.stdout, `/etc/${marker}\n1\n`, "the volume over the image's /etc holds the image's files");
    assert.equal(fs.existsSync(`/etc/${marker}`), false);
    assert.equal(await ok(['volume', 'ls', '-q']), volumesBefore, "run --rm removed the image VOLUME's anonymous volume");
    const bindSrc = path.join(root.dir, 'evil-bind');
    fs.mkdirSync(bindSrc);
    fs.writeFileSync(path.join(bindSrc, marker), 'x');
    const relative = await cli(['run', '--rm', '-v', `${bindSrc}:/rel-etc/sub`, hostileEtc, 'ls', `/etc/sub/${marker}`]);
    assert.equal(relative.status, 0, show(relative));
    assert.equal(fs.existsSync('/etc/sub'), false);
    assertHostClean();
  });

  test('a symlink a container left in a volume cannot lead a later mount out of the next container', async () => {
    const marker = `planted-${process.pid}`;
    await ok(['run', '--rm', '-v', 'planted:/data', busybox, 'sh', '-c', 'ln -s / /data/to-root && ln -s /etc /data/to-etc']);
    const src = path.join(root.dir, 'planted-src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, marker), 'x');
    const result = await cli(['run', '--rm', '-v', 'planted:/data', '-v', `${src}:/data/to-etc/inner`, '-v', `${src}:/data/to-root/rooted`, busybox, 'sh', '-c', `ls /etc/inner/${marker} /rooted/${marker}`]);
    assert.equal(result.status, 0, show(result));
    assert.equal(result.stdout, `/etc/inner/${marker}\n/rooted/${marker}\n`);
    assert.equal(fs.existsSync('/etc/inner'), false);
    assert.equal(fs.existsSync('/rooted'), false);
    assertHostClean();
  });

  test('--explain shows each volume and tmpfs mount', async () => {
    const result = await cli(['--explain', 'run', '--rm', '-v', 'explained:/data', '--tmpfs', '/t', busybox, 'true']);
    assert.equal(result.status, 0, show(result));
    assert.match(result.stderr, /mount .*\/volumes\/explained\/_data on \/data/);
    assert.match(result.stderr, /mount tmpfs on \/t/);
    assertHostClean();
  });
});
