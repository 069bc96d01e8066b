// GPU forward of the ddpm-mnist-cnn noise predictor over the diffusion kernels. Weights are uploaded
// once; every conv reads a halo-padded tile, so the same per-block ops serve the single-device
// forward (tile = whole image + zero rows) and a patch of rows (tile = patch + neighbours' rows).
import type { Gpu } from '../../gpu/gpu';
import { conv2d } from '../../kernels/diffusion/conv2d';
import { linear } from '../../kernels/diffusion/linear';
import { normApply } from '../../kernels/diffusion/norm-apply';
import { normStats } from '../../kernels/diffusion/norm-stats';
import { meanRstd } from '../../kernels/diffusion/norm-ref';
import type { DdpmModel } from './config';
import { timeEncoding } from './reference';

interface GpuBlock {
  convW: GPUBuffer; // [cout, cin, k, k]
  convB: GPUBuffer; // [cout]
  normW: GPUBuffer | null; // [cout, H, W]
  normB: GPUBuffer | null; // [cout, H, W]
}

export class DdpmGpu {
  private constructor(
    readonly gpu: Gpu,
    readonly model: DdpmModel,
    private readonly blocks: GpuBlock[],
    private readonly mlp: { w: GPUBuffer; b: GPUBuffer }[],
  ) {}

  static create(gpu: Gpu, model: DdpmModel): DdpmGpu {
    const blocks = model.blocks.map((b, i) => ({
      convW: gpu.upload(b.convW, `ddpm.b${i}.convW`),
      convB: gpu.upload(b.convB, `ddpm.b${i}.convB`),
      normW: b.normW ? gpu.upload(b.normW, `ddpm.b${i}.normW`) : null,
      normB: b.normB ? gpu.upload(b.normB, `ddpm.b${i}.normB`) : null,
    }));
    const mlp = model.timeMlp.map((l, j) => ({ w: gpu.upload(l.w, `ddpm.mlp${j}.w`), b: gpu.upload(l.b, `ddpm.mlp${j}.b`) }));
    return new DdpmGpu(gpu, model, blocks, mlp);
  }

  /** Time MLP on the GPU; returns a pooled buffer [16] (the caller frees it). */
  timeEmbeddingBuf(tIn: number): GPUBuffer {
    let h = this.gpu.upload(timeEncoding(this.model, tIn), 'ddpm.tenc'); // [32]
    this.model.timeMlp.forEach((l, j) => {
      const next = linear(this.gpu, h, this.mlp[j].w, this.mlp[j].b, l.nIn, l.nOut, 1, j + 1 < this.mlp.length ? 'gelu' : 'none'); // [nOut]
      this.gpu.free(h);
      h = next;
    });
    return h; // [16]
  }

  async timeEmbedding(tIn: number): Promise<Float32Array> {
    const b = this.timeEmbeddingBuf(tIn);
    const out = new Float32Array(await this.gpu.read(b, this.model.timeMlp[this.model.timeMlp.length - 1].nOut * 4)); // [16]
    this.gpu.free(b);
    return out;
  }

  /** conv of `block` over a halo-padded tile buffer [cin, rows + k - 1, W] -> pooled [cout, rows, W]. */
  conv(block: number, tile: GPUBuffer, rows: number): GPUBuffer {
    const { cin, cout, k } = this.model.blocks[block].spec;
    const b = this.blocks[block];
    return conv2d(this.gpu, tile, b.convW, b.convB, {
      cin, cout, inRows: rows + k - 1, width: this.model.config.width, k, stride: 1, padW: (k - 1) / 2,
    });
  }

  /** Local [sum, sumsq] (LayerNorm = 1 group) of a conv output [cout, rows, W]. */
  stats(block: number, y: GPUBuffer, rows: number): Promise<Float64Array> {
    return normStats(this.gpu, y, { channels: this.model.blocks[block].spec.cout, rows, width: this.model.config.width, groups: 1 });
  }

  /**
   * LayerNorm apply (+ GELU, + time embedding for block 0) of rows [rowStart, rowStart+rows) into `out`
   * [cout, outRowOffset*2 + rows, W], i.e. directly the next conv's halo-padded tile.
   */
  apply(block: number, y: GPUBuffer, mr: Float32Array, rowStart: number, rows: number, temb: GPUBuffer, out: GPUBuffer, outRowOffset: number): void {
    const b = this.blocks[block];
    const spec = this.model.blocks[block].spec;
    const mrBuf = this.gpu.upload(mr, 'ddpm.meanRstd'); // [1, 2]
    normApply(this.gpu, y, mrBuf, b.normW, b.normB, spec.addTime ? temb : null, out, {
      channels: spec.cout, rows, width: this.model.config.width, groups: 1, affine: 'element',
      fullHeight: this.model.config.height, rowStart, act: 'gelu', outRowOffset, outRows: rows + 2 * outRowOffset,
    });
    this.gpu.free(mrBuf); // destroyed after the pending dispatches are submitted
  }

  /** Single-device eps = gt(z, tIn) for one image [1, H, W], activations kept on the GPU between blocks. */
  async forward(z: Float32Array, tIn: number): Promise<Float32Array> {
    const { height: H, width: W, lnEps } = this.model.config;
    const gpu = this.gpu;
    const temb = this.timeEmbeddingBuf(tIn); // [16]
    const blocks = this.model.blocks;
    const r0 = (blocks[0].spec.k - 1) / 2;
    let tile = gpu.alloc(blocks[0].spec.cin * (H + 2 * r0) * W * 4, 'ddpm.tile0'); // [1, H+2R, W]
    const padded = new Float32Array(blocks[0].spec.cin * (H + 2 * r0) * W); // zero halo rows
    padded.set(z, r0 * W);
    gpu.write(tile, padded);
    let eps: Float32Array | null = null;
    for (let i = 0; i < blocks.length; i++) {
      const spec = blocks[i].spec;
      const y = this.conv(i, tile, H); // [cout, H, W]
      gpu.free(tile);
      if (!spec.norm) {
        eps = new Float32Array(await gpu.read(y, spec.cout * H * W * 4)); // [1, H, W]
        gpu.free(y);
        break;
      }
      const stats = await this.stats(i, y, H); // [1, 2]
      const rn = (blocks[i + 1].spec.k - 1) / 2; // next conv's halo
      const next = gpu.alloc(spec.cout * (H + 2 * rn) * W * 4, `ddpm.tile${i + 1}`); // [cout, H+2rn, W]
      gpu.write(next, new Float32Array(spec.cout * (H + 2 * rn) * W)); // zero the image-edge halo rows
      this.apply(i, y, meanRstd(stats, spec.cout * H * W, lnEps), 0, H, temb, next, rn);
      gpu.free(y);
      tile = next;
    }
    gpu.free(temb);
    return eps!;
  }
}
