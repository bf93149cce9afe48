import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandEnvFlag, mergeEnv, parseEnvFile } from './env.js';

describe('environment', () => {
  it('merges by name: replaces in place, appends new names', () => {
    assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4', 'A=5']), ['A=5', 'B=3', 'C=4']);
  });

  it('takes -e NAME from the host env or drops it', () => {
    assert.equal(expandEnvFlag('FOO=bar=baz', {}), 'FOO=bar=baz');
    assert.equal(expandEnvFlag('EMPTY=', {}), 'EMPTY=');
    assert.equal(expandEnvFlag('HOSTVAR', { HOSTVAR: 'x y' }), 'HOSTVAR=x y');
    assert.equal(expandEnvFlag('MISSING', {}), undefined);
    assert.throws(() => expandEnvFlag('=oops', {}), /invalid environment variable: =oops/);
  });

  it('reads env files: comments, blanks, host values, verbatim values', () => {
    const text = '# comment\n\nA=1\n  B="quoted"\r\nFROMHOST\nNOTSET\nC=a b \n';
    assert.deepEqual(parseEnvFile(text, { FROMHOST: 'h' }), ['A=1', 'B="quoted"', 'FROMHOST=h', 'C=a b ']);
    assert.throws(() => parseEnvFile('BAD NAME=1', {}), /variable 'BAD NAME' contains whitespaces/);
    assert.throws(() => parseEnvFile('=1', {}), /no variable name on line 1/);
  });
});
