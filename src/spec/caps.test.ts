import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEngineError } from '../common/index.js';
import { planCapabilities } from './caps.js';
import { ALL_CAPABILITIES, capsToMask, DEFAULT_CAPABILITIES } from './defaults.js';

const mask = (caps: string[]) => capsToMask(caps).toString(16);

describe('planCapabilities', () => {
  it("gives Docker's default set when nothing is asked", () => {
    assert.equal(mask(planCapabilities({})), 'a80425fb');
  });

  it('adds and drops; a capability both added and dropped is kept', () => {
    const caps = planCapabilities({ capAdd: ['NET_ADMIN'], capDrop: ['chown', 'CAP_NET_RAW'] });
    assert.ok(caps.includes('CAP_NET_ADMIN'));
    assert.ok(!caps.includes('CAP_CHOWN'));
    assert.ok(!caps.includes('CAP_NET_RAW'));
    assert.equal(capsToMask(caps), 0xa80425fbn + (1n << 12n) - (1n << 0n) - (1n << 13n));
    assert.ok(planCapabilities({ capAdd: ['KILL'], capDrop: ['KILL'] }).includes('CAP_KILL'));
  });

  it('drop ALL keeps only what is added; add ALL keeps all but what is dropped', () => {
    assert.deepEqual(planCapabilities({ capDrop: ['ALL'] }), []);
    assert.deepEqual(planCapabilities({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'] }), ['CAP_NET_BIND_SERVICE']);
    const all = planCapabilities({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] });
    assert.equal(all.length, ALL_CAPABILITIES.length - 1);
    assert.ok(!all.includes('CAP_SYS_ADMIN'));
  });

  it('privileged gets every capability the engine holds', () => {
    assert.equal(planCapabilities({ privileged: true }).length, 41);
    const engine = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    const caps = planCapabilities({ privileged: true }, engine);
    assert.equal(caps.length, 40);
    assert.ok(!caps.includes('CAP_SYS_RESOURCE'));
    assert.ok(!planCapabilities({ capAdd: ['ALL'] }, engine).includes('CAP_SYS_RESOURCE'));
  });

  it('refuses to add a capability the engine lacks, and unknown names', () => {
    const engine = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    assert.throws(
      () => planCapabilities({ capAdd: ['SYS_RESOURCE'] }, engine),
      (e) => isEngineError(e, 'FAILED_PRECONDITION') && /cap-add CAP_SYS_RESOURCE/.test(e.message),
    );
    assert.throws(() => planCapabilities({ capAdd: ['WINGS'] }), /unknown capability: "CAP_WINGS"/);
    assert.deepEqual(planCapabilities({}, DEFAULT_CAPABILITIES), [...DEFAULT_CAPABILITIES]);
  });
});
