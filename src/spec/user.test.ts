import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEngineError } from '../common/index.js';
import { parseGroup, parsePasswd, resolveUser } from './user.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
broken line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
nohome:x:1001:1001:::/bin/sh
`;
const GROUP = `root:x:0:root
wheel:x:10:root,app
audio:x:29:app
video:x:44:
app:x:1000:
staff:x:50:daemon, app
`;
const files = { passwd: PASSWD, group: GROUP };

describe('passwd and group parsing', () => {
  it('reads entries and skips comments and malformed lines', () => {
    const users = parsePasswd(PASSWD);
    assert.deepEqual(users.map((u) => u.name), ['root', 'daemon', 'nobody', 'app', 'nohome']);
    assert.deepEqual(users[3], { name: 'app', uid: 1000, gid: 1000, home: '/home/app', shell: '/bin/sh' });
    const groups = parseGroup(GROUP);
    assert.deepEqual(groups.find((g) => g.name === 'wheel'), { name: 'wheel', gid: 10, members: ['root', 'app'] });
    assert.deepEqual(parsePasswd(undefined), []);
  });
});

describe('resolveUser', () => {
  it('defaults to root with its home', () => {
    assert.deepEqual(resolveUser('', files), { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root', name: 'root' });
  });

  it('resolves a name with its primary group and supplementary groups', () => {
    assert.deepEqual(resolveUser('app', files), {
      uid: 1000,
      gid: 1000,
      additionalGids: [10, 29, 50],
      home: '/home/app',
      name: 'app',
    });
  });

  it('resolves a known uid like its name', () => {
    assert.deepEqual(resolveUser('1', files), { uid: 1, gid: 1, additionalGids: [50], home: '/usr/sbin', name: 'daemon' });
  });

  it('allows a numeric uid missing from passwd, with gid 0 and home /', () => {
    assert.deepEqual(resolveUser('4242', files), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
    assert.deepEqual(resolveUser('4242:7', files), { uid: 4242, gid: 7, additionalGids: [], home: '/' });
    assert.deepEqual(resolveUser('4242', { passwd: undefined, group: undefined }), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
  });

  it('an explicit group replaces the primary gid and adds no supplementary groups', () => {
    assert.deepEqual(resolveUser('app:audio', files), { uid: 1000, gid: 29, additionalGids: [], home: '/home/app', name: 'app' });
    assert.deepEqual(resolveUser('nobody:10', files).gid, 10);
  });

  it('uses / for an empty home', () => {
    assert.equal(resolveUser('nohome', files).home, '/');
  });

  it("fails with Docker's words for unknown names", () => {
    assert.throws(
      () => resolveUser('ghost', files),
      (e) => isEngineError(e) && e.message === 'unable to find user ghost: no matching entries in passwd file',
    );
    assert.throws(
      () => resolveUser('ghost', { passwd: undefined, group: undefined }),
      /unable to find user ghost: no matching entries in passwd file/,
    );
    assert.throws(
      () => resolveUser('app:ghosts', files),
      (e) => isEngineError(e) && e.message === 'unable to find group ghosts: no matching entries in group file',
    );
  });

  it('refuses ids out of range', () => {
    assert.throws(() => resolveUser('4294967296', files), (e) => isEngineError(e, 'INVALID_ARGUMENT') && /out of range/.test(e.message));
  });
});
