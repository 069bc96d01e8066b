// ONNX Runtime Web's WebGPU execution provider in Node on Dawn (ort-node-webgpu.node.ts): a MatMul graph
// against a plain-TS product, and LlamaOrt with backend 'webgpu' on stories260K against the independent
// CPU reference (src/model/reference.ts) and the golden ids of ../shared/models/stories260K/PROVENANCE.md.
// Here Dawn runs on lavapipe (CPU Vulkan): slow, and the first session compiles ORT's 26 MB .wasm,
// hence the long timeouts.
import { create, globals } from 'webgpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRange } from '../../src/model/gguf';
import { LlamaOrt } from '../../src/model/ort/llama-ort';
import { GraphBuilder } from '../../src/model/ort/onnx-graph';
import { createSession, ort } from '../../src/model/ort/ort-env';
import { installOrtWebgpu, type OrtNodeWebgpu } from '../../src/model/ort/ort-node-webgpu.node';
import { LlamaCpu } from '../../src/model/reference';
import { makeShard } from '../../src/parallel/tp';
import { GOLDEN_IDS } from '../model/fixtures';
import { loadStories } from '../model/models';

Object.assign(globalThis, globals);

function argmax(a: Float32Array): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

let env: OrtNodeWebgpu;
beforeAll(() => {
  env = installOrtWebgpu({ gpu: create([]) as unknown as GPU });
});
afterAll(() => env.dispose());

describe('ORT webgpu EP in Node (Dawn)', () => {
  it('runs a [5, 24] x [24, 7] MatMul graph equal to the plain product within 1e-5', async () => {
    const [m, k, n] = [5, 24, 7];
    const a = Float32Array.from({ length: m * k }, (_, i) => ((i * 37) % 11) / 11 - 0.5); // [m, k]
    const w = Float32Array.from({ length: k * n }, (_, i) => ((i * 53) % 17) / 17 - 0.5); // [k, n]
    const b = new GraphBuilder('mm');
    b.input('a', 'float32', [m, k]);
    b.output('c', 'float32', [m, n]);
    b.node('MatMul', ['a', b.initF32('w', w, [k, n])], {}, 'c');
    const s = await createSession(b.encode(), 'webgpu');
    const c = (await s.run({ a: new ort.Tensor('float32', a, [m, k]) })).c.data as Float32Array; // [m, n]
    await s.release();
    let worst = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let ref = 0;
        for (let t = 0; t < k; t++) ref += a[i * k + t] * w[t * n + j];
        worst = Math.max(worst, Math.abs(c[i * n + j] - ref));
      }
    }
    expect(c.length).toBe(m * n);
    expect(worst).toBeLessThan(1e-5);
  }, 300_000);

  it('LlamaOrt (fused graph, backend webgpu) on stories260K: logits match the CPU reference within 1e-3, greedy gives the golden ids', async () => {
    const st = await loadStories();
    const shard = await makeShard(st.index, (s, e) => readRange(st.buf, s, e), 0, 1);
    const N = 24; // greedy steps (lavapipe is slow; the golden list is longer)
    const model = await LlamaOrt.load(shard, { maxSeqLen: N + 2, backend: 'webgpu' });
    const ref = new LlamaCpu(shard, N + 2);
    let logits = await model.forward(Int32Array.of(1), 0); // [vocab] after BOS
    let refLogits = await ref.forward(Int32Array.of(1), 0);
    let worst = 0;
    const ids: number[] = [];
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < logits.length; j++) worst = Math.max(worst, Math.abs(logits[j] - refLogits[j]));
      ids.push(argmax(logits));
      // Both advance on the golden ids (teacher forcing), so one early mismatch cannot cascade.
      logits = await model.forward(Int32Array.of(GOLDEN_IDS[i]), i + 1);
      refLogits = await ref.forward(Int32Array.of(GOLDEN_IDS[i]), i + 1);
    }
    model.destroy();
    expect(logits.length).toBe(shard.config.vocabSize);
    expect(worst).toBeLessThan(1e-3);
    expect(ids).toEqual(GOLDEN_IDS.slice(0, N));
  }, 600_000);
});
