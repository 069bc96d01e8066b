// Random-weight .safetensors of the SD-like widened U-Net (src/model/unet/widened.ts) for the
// DistriFusion speed bench, written into the model folder its server serves. The config travels in
// the file's metadata, so a peer loads it through the normal image-engine path.
// Sizes: width 1 is 214M parameters, 857 MB f32 per file; the weights do not depend on px (only the
// metadata's latent size does), so they are generated once per process (seeded mulberry32 per
// tensor, ~1 s) and every px's file is that header + the same data, written in 64 MB chunks.
import fs from 'node:fs';
import path from 'node:path';
import type { UnetConfig } from '../src/model/unet/config';
import { fillRandomTensor, sdLikeUnetConfig, unetParamCount, unetSafetensorsLayout } from '../src/model/unet/widened';

const CHUNK_FLOATS = 16 << 20; // 64 MB per write

const dataCache = new Map<string, Uint8Array>(); // `${width}:${seed}` -> the data section

function weightData(c: UnetConfig, key: string, seed: number): Uint8Array {
  const hit = dataCache.get(key);
  if (hit) return hit;
  const lay = unetSafetensorsLayout(c);
  const data = new Uint8Array(lay.dataBytes); // every tensor back to back, f32
  for (const t of lay.tensors) {
    let rng: (() => number) | undefined;
    for (let s = 0; s < t.numel; s += CHUNK_FLOATS) {
      const n = Math.min(CHUNK_FLOATS, t.numel - s);
      rng = fillRandomTensor(t, seed, new Float32Array(data.buffer, t.byteOffset + 4 * s, n), rng); // one stream per tensor
    }
  }
  dataCache.clear(); // one width at a time: 857 MB each
  dataCache.set(key, data);
  return data;
}

export interface WidenedModelFile {
  file: string; // path
  name: string; // file name
  bytes: number;
  config: UnetConfig;
  params: number;
}

/**
 * Writes (or keeps, when an identical header is already there at the right size) the widened U-Net
 * for a px x px image into dir as sd-like-w<width>-<px>px.safetensors.
 */
export function writeWidenedModel(dir: string, px: number, width: number, seed: number, log: (l: string) => void): WidenedModelFile {
  const config = sdLikeUnetConfig(px, width);
  const lay = unetSafetensorsLayout(config);
  const name = `sd-like-w${width}-${px}px.safetensors`;
  const file = path.join(dir, name);
  const bytes = lay.header.length + lay.dataBytes;
  const params = unetParamCount(config);
  if (fs.existsSync(file) && fs.statSync(file).size === bytes) {
    const fd = fs.openSync(file, 'r');
    const head = new Uint8Array(lay.header.length);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    if (head.every((b, i) => b === lay.header[i])) {
      log(`model ${name}: kept (${(bytes / 1e6).toFixed(0)} MB, ${(params / 1e6).toFixed(1)}M params)`);
      return { file, name, bytes, config, params };
    }
  }
  const t0 = performance.now();
  const data = weightData(config, `${width}:${seed}`, seed);
  const tGen = performance.now() - t0;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, lay.header);
  for (let off = 0; off < data.length; off += CHUNK_FLOATS * 4) fs.writeSync(fd, data, off, Math.min(CHUNK_FLOATS * 4, data.length - off));
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  log(`model ${name}: wrote ${(bytes / 1e6).toFixed(0)} MB (${(params / 1e6).toFixed(1)}M params; weights ${(tGen / 1000).toFixed(1)} s, total ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return { file, name, bytes, config, params };
}
