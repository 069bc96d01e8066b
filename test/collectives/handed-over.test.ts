// ownedOrCopy: what the U-Net runner's copying Comm sends as is (buffers their sender handed over,
// whole) and what it copies (everything else, so the runner may keep using its arrays).
import { describe, expect, it } from 'vitest';
import { handedOver, ownedOrCopy } from '../../src/collectives/types';

describe('handedOver / ownedOrCopy', () => {
  it('a whole handed-over buffer goes as it is; anything else is copied', () => {
    const given = new Float32Array([1, 2, 3]);
    handedOver.add(given.buffer);
    expect(ownedOrCopy(given)).toBe(given);
    const kept = new Float32Array([4, 5, 6]); // not handed over: the caller still uses it
    const c = ownedOrCopy(kept);
    expect(c).not.toBe(kept);
    expect(c.buffer).not.toBe(kept.buffer);
    expect([...c]).toEqual([4, 5, 6]);
    const big = new Float32Array(8);
    handedOver.add(big.buffer);
    const view = big.subarray(2, 5); // a view of a handed-over buffer: the rest of it is not the sender's to give
    const v = ownedOrCopy(view);
    expect(v.buffer).not.toBe(big.buffer);
    expect(v.length).toBe(3);
  });
});
