import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadDdpm } from '../../src/model/ddpm/config';
import { forwardReference } from '../../src/model/ddpm/reference';
import { getTensor, parseSafetensors } from '../../src/model/ddpm/safetensors';
import { erf } from '../../src/kernels/diffusion/activation-ref';

const shared = process.env.TABMESH_SHARED ?? new URL('../../../shared/', import.meta.url).pathname;
const modelDir = `${shared}/models/ddpm-mnist-cnn/`;

describe('safetensors', () => {
  it('rejects malformed input with a clear error', () => {
    expect(() => parseSafetensors(new Uint8Array(4))).toThrow(/shorter than the 8-byte/);
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setBigUint64(0, 1000n, true);
    expect(() => parseSafetensors(bad)).toThrow(/does not fit/);
    const hdr = new TextEncoder().encode('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}');
    const f = new Uint8Array(8 + hdr.length + 8);
    new DataView(f.buffer).setBigUint64(0, BigInt(hdr.length), true);
    f.set(hdr, 8);
    expect(() => parseSafetensors(f)).toThrow(/spans 8 bytes but shape \[4\] needs 16/);
    const notJson = new Uint8Array(8 + 3);
    new DataView(notJson.buffer).setBigUint64(0, 3n, true);
    notJson.set([123, 120, 125], 8);
    expect(() => parseSafetensors(notJson)).toThrow(/not valid UTF-8 JSON/);
  });

  it('loads the checkpoint with checked shapes and the 1000-step schedule', () => {
    const m = loadDdpm(readFileSync(modelDir + 'ddpm_mnist_starter.safetensors'));
    let n = 0;
    for (const b of m.blocks) n += b.convW.length + b.convB.length + (b.normW?.length ?? 0) + (b.normB?.length ?? 0);
    for (const l of m.timeMlp) n += l.w.length + l.b.length;
    expect(n).toBe(291217);
    expect(m.alphaBars[1000]).toBeCloseTo(3.995e-5, 7);
  });
});

describe('CPU reference forward', () => {
  it('erf matches known values', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 13);
    expect(erf(-1.5)).toBeCloseTo(-0.9661051464753108, 13);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 13);
  });

  it('matches the golden numpy eps within 1e-4', () => {
    const m = loadDdpm(readFileSync(modelDir + 'ddpm_mnist_starter.safetensors'));
    const g = parseSafetensors(readFileSync(modelDir + 'golden_denoiser_io.safetensors'));
    const x = getTensor(g, 'x', [2, 1, 28, 28]);
    const t = getTensor(g, 't', [2]);
    const eps = getTensor(g, 'eps', [2, 1, 28, 28]);
    for (let n = 0; n < 2; n++) {
      const out = forwardReference(m, x.subarray(n * 784, (n + 1) * 784), t[n]);
      let maxErr = 0;
      for (let i = 0; i < 784; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - eps[n * 784 + i]));
      expect(maxErr).toBeLessThan(1e-4);
    }
  });
});
