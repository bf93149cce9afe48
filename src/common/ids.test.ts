import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidName, newContainerId, randomName, shortId } from './ids.js';

describe('ids', () => {
  it('container ids are 64 hex digits, and 1,000 of them all differ', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newContainerId()));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^[0-9a-f]{64}$/);
    // Every hex digit shows up in so many random ids (a constant or biased source would not).
    assert.equal(new Set([...ids].join('')).size, 16);
  });

  it('the short id is the first 12 digits', () => {
    const id = newContainerId();
    assert.equal(shortId(id), id.slice(0, 12));
  });

  it('random names are adjective_noun_hex and valid container names', () => {
    const names = new Set(Array.from({ length: 200 }, () => randomName()));
    assert.ok(names.size > 100, `only ${names.size} distinct names in 200`);
    for (const name of names) {
      assert.match(name, /^[a-z]+_[a-z]+_[0-9a-f]{2}$/);
      assert.ok(isValidName(name));
    }
  });
});
