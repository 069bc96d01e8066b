// The DistriFusion image engine of one peer (runs in the GPU worker): the diffusion model on this
// peer's GPU, the patch-parallel plan over the group's communicator, and (on rank 0, when asked) the
// single-device run of the same request as the reference for PSNR.
import type { Comm } from '../collectives/types';
import type { Gpu } from '../gpu/gpu';
import { loadDdpm, type DdpmModel } from '../model/ddpm/config';
import { DdpmGpu } from '../model/ddpm/forward-gpu';
import { sampleImage, toPixels, type SamplerKind } from '../model/ddpm/sampler';
import { psnr } from '../model/ddpm/metrics';
import { runPatchParallel, type PatchMode } from '../parallel/patch';
import { gpuPatchBackend } from '../parallel/patch-gpu';
import { cachedRangeReader } from './range-cache';

export interface ImageRequest {
  url: string; // the model's .safetensors (HTTP Range capable, or whole-file)
  seed: number;
  steps: number;
  sampler: SamplerKind;
  mode: PatchMode;
  warmupSteps: number;
  withSingle: boolean; // rank 0 also runs single-device for psnr_vs_single
}

export interface ImageResult {
  rank: number;
  rows: [number, number];
  width: number;
  height: number;
  pixels?: number[]; // [H*W] in [0, 1], rank 0 only
  single?: number[]; // [H*W] single-device pixels, rank 0 with withSingle
  psnr_vs_single?: number;
  timings: { totalMs: number; commWaitMs: number; steps: number; bytesSentPerStep: number; singleMs?: number };
}

const models = new Map<string, DdpmModel>();

async function fetchModel(url: string): Promise<DdpmModel> {
  const known = models.get(url);
  if (known) return known;
  const head = await fetch(url, { method: 'HEAD' });
  const size = Number(head.headers.get('content-length'));
  if (!head.ok || !size) throw new Error(`cannot read ${url}: HTTP ${head.status}`);
  const bytes = await cachedRangeReader(url)(0, size);
  const model = loadDdpm(bytes); // throws a clear error on a malformed file
  models.set(url, model);
  return model;
}

/** A step as the coordinator receives it (plain arrays: it crosses Comlink and the control channel). */
export interface ImageStepEvent {
  kind: 'image-step';
  step: number;
  steps: number;
  rows: [number, number];
  width: number;
  preview: number[]; // [rows*W] pixels in [0, 1] of this peer's rows of the predicted x0
  startMs: number;
  computeMs: number;
  commWaitMs: number;
  sync: boolean;
}

export async function runImage(gpu: Gpu, comm: Comm, req: ImageRequest, onStep?: (ev: ImageStepEvent) => void): Promise<ImageResult> {
  const model = await fetchModel(req.url);
  const dg = DdpmGpu.create(gpu, model);
  const sampler = { kind: req.sampler, steps: req.steps };
  const res = await runPatchParallel({
    comm, model, rank: comm.rank, nPeers: comm.size, steps: req.steps, sampler, mode: req.mode,
    warmupSteps: req.warmupSteps, seed: req.seed, backend: gpuPatchBackend(dg),
    onStep: onStep && ((ev) => onStep({ ...ev, kind: 'image-step', preview: Array.from(ev.preview) })),
  });
  const { width, height } = model.config;
  const out: ImageResult = { rank: comm.rank, rows: res.rows, width, height, timings: { ...res.timings } };
  if (comm.rank !== 0) return out;
  const px = toPixels(res.image); // [C*H*W] in [0, 1]
  out.pixels = Array.from(px);
  if (req.withSingle) {
    const t0 = performance.now();
    const single = await sampleImage({ model, sampler, seed: req.seed, denoiser: (z, t) => dg.forward(z, t) }); // [C*H*W]
    out.timings.singleMs = performance.now() - t0;
    out.single = Array.from(toPixels(single));
    out.psnr_vs_single = psnr(res.image, single);
  }
  return out;
}
