import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { checkTarget, parseMountFlag, parseTmpfsFlag, parseVolumeFlag, parseVolumesFrom, splitCsv } from './index.js';

const invalid = (pattern: RegExp) => (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT') && pattern.test((error as Error).message);

test('-v HOST:CTR is a bind made when missing, rprivate and rw by default', () => {
  const m = parseVolumeFlag('/srv/data:/data');
  assert.deepEqual(
    { type: m.type, source: m.source, target: m.target, readonly: m.readonly, propagation: m.propagation, createSource: m.createSource },
    { type: 'bind', source: '/srv/data', target: '/data', readonly: false, propagation: 'rprivate', createSource: true },
  );
});

test('-v modes: ro, propagation, z ignored; conflicting or unknown modes refused', () => {
  const m = parseVolumeFlag('/a:/b/:ro,rshared,z');
  assert.equal(m.readonly, true);
  assert.equal(m.propagation, 'rshared');
  assert.equal(m.target, '/b');
  assert.equal(m.mode, 'ro,rshared,z');
  assert.throws(() => parseVolumeFlag('/a:/b:ro,rw'), invalid(/conflicting/));
  assert.throws(() => parseVolumeFlag('/a:/b:bogus'), invalid(/invalid mode "bogus"/));
  assert.throws(() => parseVolumeFlag('/a:/b:shared,slave'), invalid(/more than one propagation/));
  assert.throws(() => parseVolumeFlag('/a:/b:nocopy'), invalid(/nocopy applies to volumes/));
});

test('-v NAME:CTR is a named volume; bad names and propagation on volumes are refused', () => {
  const m = parseVolumeFlag('cache:/var/cache:ro,nocopy');
  assert.equal(m.type, 'volume');
  assert.equal(m.source, 'cache');
  assert.equal(m.readonly, true);
  assert.equal(m.noCopy, true);
  assert.throws(() => parseVolumeFlag('c:/x'), invalid(/invalid characters/));
  assert.throws(() => parseVolumeFlag('bad$name:/x'), invalid(/invalid characters/));
  assert.throws(() => parseVolumeFlag('cache:/x:rshared'), invalid(/propagation applies to bind/));
});

test('-v PATH is an anonymous volume; relative sources resolve only with a cwd', () => {
  const m = parseVolumeFlag('/data');
  assert.equal(m.type, 'volume');
  assert.equal(m.source, '');
  assert.equal(m.target, '/data');
  assert.equal(parseVolumeFlag('./dir:/x', { cwd: '/home/me' }).source, '/home/me/dir');
  assert.equal(parseVolumeFlag('../up:/x', { cwd: '/home/me' }).source, '/home/up');
  assert.throws(() => parseVolumeFlag('./dir:/x'), invalid(/not absolute/));
});

test('-v targets must be absolute and not /; malformed specs are refused', () => {
  assert.throws(() => parseVolumeFlag('data'), invalid(/must be absolute/));
  assert.throws(() => parseVolumeFlag('/a:rel'), invalid(/must be absolute/));
  assert.throws(() => parseVolumeFlag('/a:/'), invalid(/can't be '\/'/));
  assert.throws(() => parseVolumeFlag('/a:/b:ro:x'), invalid(/invalid volume specification/));
  assert.throws(() => parseVolumeFlag('/foo:rw'), invalid(/anonymous volume takes no mode/));
  assert.throws(() => parseVolumeFlag(':/x'), invalid(/empty source/));
  assert.throws(() => parseVolumeFlag('/a:/b:'), invalid(/empty mode/));
  assert.equal(checkTarget('/a/./b/../c/', 'x'), '/a/c');
  assert.equal(checkTarget('/../../etc', 'x'), '/etc');
});

test('--mount type=bind: source required, never created, readonly and propagation', () => {
  const m = parseMountFlag('type=bind,source=/srv,target=/srv,readonly,bind-propagation=rslave');
  assert.equal(m.type, 'bind');
  assert.equal(m.createSource, false);
  assert.equal(m.readonly, true);
  assert.equal(m.propagation, 'rslave');
  assert.equal(parseMountFlag('type=bind,src=/a,dst=/b,ro=false').readonly, false);
  assert.throws(() => parseMountFlag('type=bind,target=/b'), invalid(/Source must not be empty/));
  assert.throws(() => parseMountFlag('type=bind,source=/a,target=/b,volume-nocopy'), invalid(/volume-nocopy applies to type=volume/));
  assert.throws(() => parseMountFlag('type=bind,source=/a,target=/b,bind-propagation=odd'), invalid(/invalid bind-propagation/));
});

test('--mount type=volume (the default), anonymous without source, labels and nocopy', () => {
  const m = parseMountFlag('source=logs,target=/logs,volume-label=a=b,volume-label=c,volume-nocopy=true');
  assert.equal(m.type, 'volume');
  assert.equal(m.source, 'logs');
  assert.deepEqual(m.labels, { a: 'b', c: '' });
  assert.equal(m.noCopy, true);
  assert.equal(parseMountFlag('type=volume,target=/x').source, '');
  assert.throws(() => parseMountFlag('type=volume,target=/x,volume-opt=type=nfs'), (e: unknown) => isEngineError(e, 'NOT_IMPLEMENTED'));
  assert.throws(() => parseMountFlag('type=volume,source=x,target=/x,tmpfs-size=1m'), invalid(/tmpfs-size applies to type=tmpfs/));
});

test('--mount type=tmpfs: size and mode, no source; unknown keys and types refused', () => {
  const m = parseMountFlag('type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770');
  assert.equal(m.type, 'tmpfs');
  assert.equal(m.tmpfs?.size, 64 * 1024 * 1024);
  assert.equal(m.tmpfs?.mode, 0o1770);
  assert.throws(() => parseMountFlag('type=tmpfs,source=x,target=/run'), invalid(/Source must not be specified/));
  assert.throws(() => parseMountFlag('type=tmpfs,target=/run,tmpfs-mode=99'), invalid(/invalid tmpfs mode/));
  assert.throws(() => parseMountFlag('type=nfs,target=/x'), invalid(/invalid mount type/));
  assert.throws(() => parseMountFlag('type=bind,source=/a'), invalid(/target is required/));
  assert.throws(() => parseMountFlag('type=bind,source=/a,target=/b,colour=red'), invalid(/unexpected key "colour"/));
  assert.throws(() => parseMountFlag('type'), invalid(/must be a key=value pair/));
});

test('--mount values may be quoted', () => {
  assert.deepEqual(splitCsv('type=bind,"source=/a,b",target=/c'), ['type=bind', 'source=/a,b', 'target=/c']);
  assert.deepEqual(splitCsv('a="x""y"'), ['a=x"y']);
  assert.equal(parseMountFlag('type=bind,"source=/with,comma",target=/c').source, '/with,comma');
  assert.throws(() => splitCsv('a="x'), invalid(/unterminated quote/));
});

test('--tmpfs PATH[:options]', () => {
  const plain = parseTmpfsFlag('/run');
  assert.equal(plain.type, 'tmpfs');
  assert.deepEqual(plain.tmpfs, { options: [] });
  const m = parseTmpfsFlag('/tmp:size=1g,mode=1777,exec,uid=1000,ro');
  assert.equal(m.tmpfs?.size, 1024 ** 3);
  assert.equal(m.tmpfs?.mode, 0o1777);
  assert.deepEqual(m.tmpfs?.options, ['exec', 'uid=1000']);
  assert.equal(m.readonly, true);
  assert.deepEqual(parseTmpfsFlag('/t:size=50%').tmpfs?.options, ['size=50%']);
  assert.throws(() => parseTmpfsFlag('/t:size=lots'), invalid(/invalid tmpfs size/));
  assert.throws(() => parseTmpfsFlag('/t:mode=rwx'), invalid(/invalid tmpfs mode/));
  assert.throws(() => parseTmpfsFlag('/t:uid=1,evil=1'), invalid(/invalid tmpfs option "evil=1"/));
  assert.throws(() => parseTmpfsFlag('/t:uid=a,b'), invalid(/invalid tmpfs option "b"/));
  assert.throws(() => parseTmpfsFlag('rel'), invalid(/must be absolute/));
});

test('--volumes-from CONTAINER[:ro|rw]', () => {
  assert.deepEqual(parseVolumesFrom('web'), { container: 'web' });
  assert.deepEqual(parseVolumesFrom('web:ro'), { container: 'web', mode: 'ro' });
  assert.throws(() => parseVolumesFrom('web:rx'), invalid(/invalid mode/));
  assert.throws(() => parseVolumesFrom(':ro'), invalid(/expected CONTAINER/));
});
