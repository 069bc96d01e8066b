// GPU backend of the patch-parallel runner: the same plan and comm schedule as the CPU runner,
// with every conv / norm-statistics / norm-apply / time-MLP op on the diffusion WGSL kernels.
// A conv reads this peer's halo-padded tile [cin, rows + 2R, W], so once the (stale or fresh)
// halo rows are on the host the GPU never waits on the network mid-layer.
import type { DdpmGpu } from '../model/ddpm/forward-gpu';
import type { PatchBackend } from './patch-cpu';

export function gpuPatchBackend(dg: DdpmGpu): PatchBackend<GPUBuffer> {
  const gpu = dg.gpu;
  const W = dg.model.config.width;
  let temb: GPUBuffer | null = null; // [16], this step's time embedding, kept on the GPU for apply
  return {
    timeEmbedding: async (tIn) => {
      if (temb) gpu.free(temb);
      temb = dg.timeEmbeddingBuf(tIn);
      return new Float32Array(await gpu.read(temb, dg.model.timeMlp[dg.model.timeMlp.length - 1].nOut * 4)); // [16]
    },
    conv: async (block, tile, rows) => {
      const t = gpu.alloc(tile.byteLength, 'patch.tile'); // [cin, rows + 2R, W]
      gpu.write(t, tile);
      const y = dg.conv(block, t, rows); // [cout, rows, W]
      gpu.free(t);
      return y;
    },
    stats: (block, y, rows) => dg.stats(block, y, rows),
    apply: async (block, y, mr, rowStart, rows) => {
      const cout = dg.model.blocks[block].spec.cout;
      const out = gpu.alloc(cout * rows * W * 4, 'patch.act'); // [cout, rows, W]
      dg.apply(block, y, mr, rowStart, rows, temb!, out, 0);
      const act = new Float32Array(await gpu.read(out, cout * rows * W * 4)); // [cout, rows, W]: boundary rows go to peers
      gpu.free(out);
      return act;
    },
    read: async (block, y, rows) => new Float32Array(await gpu.read(y, dg.model.blocks[block].spec.cout * rows * W * 4)), // [cout, rows, W]
    release: (y) => gpu.free(y),
  };
}
