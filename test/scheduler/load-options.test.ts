// loadOptions: a generate request's engine / engines / shard_weights -> the per-rank values of the
// llm-load job ('speed' takes each peer's measured GFLOPS from the roster).
import { describe, expect, it } from 'vitest';
import { loadOptions } from '../../src/scheduler/llm-flow';

const gflops: Record<string, number> = { a: 12, b: 3 };
const of = (p: string) => gflops[p];

describe('loadOptions', () => {
  it('defaults to auto on every rank with even shards', () => {
    expect(loadOptions({}, ['a', 'b'], of)).toEqual({ engines: ['auto', 'auto'], reduceWire: 'f32' });
    expect(loadOptions({ allreduce_wire: 'i8' }, ['a', 'b'], of).reduceWire).toBe('i8');
    expect(() => loadOptions({ allreduce_wire: 'f16' as 'i8' }, ['a', 'b'], of)).toThrow(/allreduce_wire must be "f32" or "i8", got "f16"/);
  });
  it('engine applies to all ranks; engines overrides per rank', () => {
    expect(loadOptions({ engine: 'ort-wasm' }, ['a', 'b'], of).engines).toEqual(['ort-wasm', 'ort-wasm']);
    expect(loadOptions({ engine: 'ort-wasm', engines: ['wgsl', 'auto'] }, ['a', 'b'], of).engines).toEqual(['wgsl', 'auto']);
    expect(() => loadOptions({ engines: ['wgsl'] }, ['a', 'b'], of)).toThrow(/1 engines for tensor_parallel_size=2/);
    expect(() => loadOptions({ engine: 'tpu' as never }, ['a'], of)).toThrow(/unknown engine "tpu"/);
  });
  it("shard_weights: 'speed' takes the roster's GFLOPS in rank order; arrays are checked", () => {
    expect(loadOptions({ shard_weights: 'speed' }, ['b', 'a'], of).weights).toEqual([3, 12]);
    expect(loadOptions({ shard_weights: [1, 2] }, ['a', 'b'], of).weights).toEqual([1, 2]);
    expect(loadOptions({ shard_weights: 'even' }, ['a', 'b'], of).weights).toBeUndefined();
    expect(() => loadOptions({ shard_weights: 'speed' }, ['a', 'zz'], of)).toThrow(/no measured GFLOPS/);
    expect(() => loadOptions({ shard_weights: [1, 0] }, ['a', 'b'], of)).toThrow(/2 positive numbers/);
    expect(() => loadOptions({ shard_weights: [1] }, ['a', 'b'], of)).toThrow(/2 positive numbers/);
  });
});
