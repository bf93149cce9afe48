import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEngineError } from '../common/index.js';
import {
  cpusToQuota,
  normalizeCapabilities,
  normalizeCapability,
  parseCpus,
  parseCpuset,
  parseInteger,
  parseMemory,
  parseMemorySwap,
  parseSecurityOpts,
  parseSize,
  parseUserSpec,
  seccompProfilePath,
} from './run-options.js';

const invalidArgument = (pattern: RegExp) => (error: unknown) =>
  isEngineError(error, 'INVALID_ARGUMENT') && pattern.test(error.message);

describe('sizes', () => {
  it("reads Docker's units, binary, any case", () => {
    assert.equal(parseSize('32m'), 32 * 1024 * 1024);
    assert.equal(parseSize('1g'), 1024 ** 3);
    assert.equal(parseSize('1G'), 1024 ** 3);
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize('512kb'), 512 * 1024);
    assert.equal(parseSize('64MiB'), 64 * 1024 * 1024);
    assert.equal(parseSize('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('100b'), 100);
  });

  it('refuses what is not a size', () => {
    for (const bad of ['', 'm', '-1m', '1x', '1.2.3m', 'lots']) {
      assert.throws(() => parseSize(bad), invalidArgument(/not a size/), bad);
    }
  });

  it('needs at least 6MB of memory', () => {
    assert.equal(parseMemory('6m'), 6 * 1024 * 1024);
    assert.throws(() => parseMemory('4m'), invalidArgument(/minimum memory limit allowed is 6MB/));
    assert.throws(() => parseMemory('1000'), invalidArgument(/minimum/));
  });

  it('takes -1 for unlimited swap', () => {
    assert.equal(parseMemorySwap('-1'), -1);
    assert.equal(parseMemorySwap('64m'), 64 * 1024 * 1024);
  });
});

describe('cpus', () => {
  it('--cpus 1.5 is a 150000us quota per 100000us period', () => {
    assert.equal(parseCpus('1.5'), 1.5);
    assert.deepEqual(cpusToQuota(1.5), { quota: 150000, period: 100000 });
    assert.deepEqual(cpusToQuota(0.01), { quota: 1000, period: 100000 });
    assert.deepEqual(cpusToQuota(2), { quota: 200000, period: 100000 });
    assert.equal(parseCpus('.5'), 0.5);
  });

  it('refuses bad --cpus', () => {
    assert.throws(() => parseCpus('abc'), invalidArgument(/--cpus "abc": not a number/));
    assert.throws(() => parseCpus('-1'), invalidArgument(/not a number/));
    assert.throws(() => parseCpus('0'), invalidArgument(/minimum is 0.01/));
    assert.throws(() => parseCpus('0.001'), invalidArgument(/minimum/));
  });

  it('reads cpusets and integers', () => {
    assert.deepEqual(parseCpuset('0-2,4'), [0, 1, 2, 4]);
    assert.deepEqual(parseCpuset('1'), [1]);
    assert.throws(() => parseCpuset('2-1'), invalidArgument(/reversed/));
    assert.throws(() => parseCpuset('0,,1'), invalidArgument(/expected a list/));
    assert.equal(parseInteger('10', '--pids-limit'), 10);
    assert.equal(parseInteger('-1', '--pids-limit'), -1);
    assert.throws(() => parseInteger('1.5', '--pids-limit'), invalidArgument(/--pids-limit "1.5": not an integer/));
  });
});

describe('capability names', () => {
  it('accepts NET_ADMIN, CAP_NET_ADMIN, net_admin and ALL', () => {
    assert.equal(normalizeCapability('NET_ADMIN'), 'CAP_NET_ADMIN');
    assert.equal(normalizeCapability('CAP_NET_ADMIN'), 'CAP_NET_ADMIN');
    assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
    assert.equal(normalizeCapability('all'), 'ALL');
    assert.deepEqual(normalizeCapabilities(['chown', 'CAP_CHOWN', 'KILL']), ['CAP_CHOWN', 'CAP_KILL']);
  });

  it('refuses unknown names like Docker', () => {
    assert.throws(() => normalizeCapability('FLY'), invalidArgument(/^unknown capability: "CAP_FLY"$/));
  });
});

describe('security options', () => {
  it('defaults to the default seccomp profile and privileges allowed', () => {
    assert.deepEqual(parseSecurityOpts([]), {
      seccomp: { kind: 'default' },
      noNewPrivileges: false,
      unmaskSystemPaths: false,
      ignored: [],
    });
  });

  it('reads seccomp=unconfined, seccomp=PATH and the forms of no-new-privileges', () => {
    assert.deepEqual(parseSecurityOpts(['seccomp=unconfined']).seccomp, { kind: 'unconfined' });
    assert.deepEqual(parseSecurityOpts(['seccomp=/tmp/p.json']).seccomp, { kind: 'profile', path: '/tmp/p.json' });
    assert.equal(seccompProfilePath(['seccomp=/tmp/p.json']), '/tmp/p.json');
    assert.equal(seccompProfilePath(['seccomp=unconfined']), undefined);
    for (const yes of [['no-new-privileges'], ['no-new-privileges:true'], ['no-new-privileges=true']]) {
      assert.equal(parseSecurityOpts(yes).noNewPrivileges, true, yes[0]);
    }
    assert.equal(parseSecurityOpts(['no-new-privileges', 'no-new-privileges:false']).noNewPrivileges, false);
    assert.equal(parseSecurityOpts(['systempaths=unconfined']).unmaskSystemPaths, true);
    assert.deepEqual(parseSecurityOpts(['apparmor=unconfined']).ignored, ['apparmor=unconfined']);
  });

  it('refuses unknown or malformed options', () => {
    assert.throws(() => parseSecurityOpts(['nonsense']), invalidArgument(/invalid --security-opt "nonsense"/));
    assert.throws(() => parseSecurityOpts(['foo=bar']), invalidArgument(/unknown option foo/));
    assert.throws(() => parseSecurityOpts(['no-new-privileges:maybe']), invalidArgument(/true or false/));
    assert.throws(() => parseSecurityOpts(['seccomp=']), invalidArgument(/no profile/));
  });
});

describe('user specs', () => {
  it('splits name, uid, uid:gid, name:group', () => {
    assert.deepEqual(parseUserSpec('nobody'), { user: 'nobody' });
    assert.deepEqual(parseUserSpec('1000'), { user: '1000' });
    assert.deepEqual(parseUserSpec('1000:100'), { user: '1000', group: '100' });
    assert.deepEqual(parseUserSpec('daemon:wheel'), { user: 'daemon', group: 'wheel' });
    assert.deepEqual(parseUserSpec(''), { user: '0' });
  });

  it('refuses malformed ones', () => {
    for (const bad of [':1', '1:', 'a:b:c']) assert.throws(() => parseUserSpec(bad), invalidArgument(/invalid --user/), bad);
  });
});
