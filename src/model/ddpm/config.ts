// The ddpm-mnist-cnn architecture and schedule (see shared/models/ddpm-mnist-cnn/config.json),
// plus the loader that turns the safetensors checkpoint into typed per-block weights.
import { getTensor, parseSafetensors } from './safetensors';

export interface DdpmBlockSpec {
  cin: number;
  cout: number;
  k: number; // square kernel, stride 1, 'same' padding (k-1)/2
  norm: boolean; // LayerNorm over (C,H,W) with per-element affine, then GELU
  addTime: boolean; // add the time embedding per channel after GELU
}

export interface DdpmConfig {
  height: number;
  width: number;
  channels: number;
  nT: number; // training steps (1000; the checkpoint buffers are the truth)
  lnEps: number;
  timeDims: number[]; // time MLP widths: 32 -> 128 -> 128 -> 128 -> 16
  blocks: DdpmBlockSpec[];
}

export const DDPM_MNIST_CONFIG: DdpmConfig = {
  height: 28,
  width: 28,
  channels: 1,
  nT: 1000,
  lnEps: 1e-5,
  timeDims: [32, 128, 128, 128, 16],
  blocks: [
    { cin: 1, cout: 16, k: 7, norm: true, addTime: true },
    { cin: 16, cout: 32, k: 7, norm: true, addTime: false },
    { cin: 32, cout: 32, k: 7, norm: true, addTime: false },
    { cin: 32, cout: 16, k: 7, norm: true, addTime: false },
    { cin: 16, cout: 1, k: 3, norm: false, addTime: false },
  ],
};

export interface DdpmBlockWeights {
  spec: DdpmBlockSpec;
  convW: Float32Array; // [cout, cin, k, k] (OIHW)
  convB: Float32Array; // [cout]
  normW: Float32Array | null; // [cout, H, W]
  normB: Float32Array | null; // [cout, H, W]
}

export interface DdpmLinear {
  w: Float32Array; // [out, in]
  b: Float32Array; // [out]
  nIn: number;
  nOut: number;
}

export interface DdpmModel {
  config: DdpmConfig;
  blocks: DdpmBlockWeights[];
  timeMlp: DdpmLinear[]; // GELU between consecutive layers, none after the last
  frequencies: Float32Array; // [16]
  betas: Float32Array; // [nT+1], beta_t[i]
  alphaBars: Float32Array; // [nT+1], cumprod(1 - beta)
}

/** Build the model from the checkpoint bytes; every tensor's shape is checked. */
export function loadDdpm(bytes: Uint8Array, config: DdpmConfig = DDPM_MNIST_CONFIG): DdpmModel {
  const f = parseSafetensors(bytes);
  const { height: H, width: W, nT } = config;
  const last = config.blocks.length - 1;
  const blocks = config.blocks.map((spec, i): DdpmBlockWeights => {
    // the last block is a bare Conv2d ('gt.blocks.4.weight'); the others are Sequential(conv, LN, GELU)
    const conv = i === last ? `gt.blocks.${i}` : `gt.blocks.${i}.net.0`;
    return {
      spec,
      convW: getTensor(f, `${conv}.weight`, [spec.cout, spec.cin, spec.k, spec.k]),
      convB: getTensor(f, `${conv}.bias`, [spec.cout]),
      normW: spec.norm ? getTensor(f, `gt.blocks.${i}.net.1.weight`, [spec.cout, H, W]) : null,
      normB: spec.norm ? getTensor(f, `gt.blocks.${i}.net.1.bias`, [spec.cout, H, W]) : null,
    };
  });
  const timeMlp: DdpmLinear[] = [];
  for (let j = 0; j + 1 < config.timeDims.length; j++) {
    const nIn = config.timeDims[j];
    const nOut = config.timeDims[j + 1];
    timeMlp.push({
      w: getTensor(f, `gt.time_embed.${2 * j}.weight`, [nOut, nIn]),
      b: getTensor(f, `gt.time_embed.${2 * j}.bias`, [nOut]),
      nIn,
      nOut,
    });
  }
  return {
    config,
    blocks,
    timeMlp,
    frequencies: getTensor(f, 'gt.frequencies', [config.timeDims[0] / 2]),
    betas: getTensor(f, 'beta_t', [nT + 1]),
    alphaBars: getTensor(f, 'alpha_t', [nT + 1]),
  };
}
