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
import { encodePixels } from './pixel-codec';
import type { UnetModel } from '../model/unet/config';
import type { WireEnc } from '../parallel/patch-unet-wire';

export interface ImageRequest {
  url: string; // the model's .safetensors (HTTP Range capable, or whole-file)
  seed: number;
  steps: number;
  sampler: SamplerKind;
  mode: PatchMode;
  warmupSteps: number;
  withSingle: boolean; // rank 0 also runs single-device for psnr_vs_single
  label?: number; // class-conditional models (fm-unet): class 0..9; default the null class (unconditional)
  guidance?: number; // classifier-free guidance weight w (default 1: one conditional forward)
  backend?: 'gpu' | 'cpu'; // where the patches and the single-device reference run (default: this peer's GPU)
  commFree?: boolean; // fm-unet no_sync only: skip the per-step eps allGather too (the no-communication timing ideal)
  commDtype?: WireEnc; // fm-unet async modes: wire format of the async flat buffer (sync gathers stay f32)
}

export interface ImageResult {
  rank: number;
  rows: [number, number];
  width: number;
  height: number;
  pixels?: string; // [H*W] in [0, 1] as encodePixels (f32 base64: one control message holds it), rank 0 only
  single?: string; // [H*W] single-device pixels, encoded the same way, rank 0 with withSingle
  psnr_vs_single?: number;
  timings: { totalMs: number; commWaitMs: number; steps: number; bytesSentPerStep: number; singleMs?: number };
}

type AnyModel = { kind: 'ddpm'; model: DdpmModel } | { kind: 'unet'; model: UnetModel };
const models = new Map<string, AnyModel>();

/** The model behind `url`, told apart by its tensor names (fm-unet has class_emb/conv_in). */
async function fetchModel(url: string): Promise<AnyModel> {
  const known = models.get(url);
  if (known) return known;
  const head = await fetch(url, { method: 'HEAD' });
  const size = Number(head.headers.get('content-length'));
  if (!head.ok || !size) throw new Error(`cannot read ${url}: HTTP ${head.status}`);
  const bytes = await cachedRangeReader(url)(0, size);
  // Loaded on first use, like this module: a ddpm-only peer never parses the U-Net code.
  const unet = await import('./unet-image');
  const model: AnyModel = unet.isUnetSafetensors(bytes)
    ? { kind: 'unet', model: unet.loadUnetModel(bytes) }
    : { kind: 'ddpm', model: loadDdpm(bytes) }; // throws a clear error on a malformed file
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

/** gpu: null on a peer without WebGPU, which runs only backend 'cpu'. */
export async function runImage(gpu: Gpu | null, comm: Comm, req: ImageRequest, onStep?: (ev: ImageStepEvent) => void): Promise<ImageResult> {
  const onCpu = req.backend === 'cpu';
  if (!gpu && !onCpu) throw new Error('this peer has no WebGPU device: its image share must run on the plain-JS backend (backend "cpu" or "auto")');
  const loaded = await fetchModel(req.url);
  if (loaded.kind === 'unet') {
    const { runUnetImage } = await import('./unet-image');
    return runUnetImage(gpu, comm, loaded.model, req, onStep);
  }
  const model = loaded.model;
  const dg = gpu && !onCpu ? DdpmGpu.create(gpu, model) : null; // null: plain-JS patches and reference
  const sampler = { kind: req.sampler, steps: req.steps };
  const res = await runPatchParallel({
    comm, model, rank: comm.rank, nPeers: comm.size, steps: req.steps, sampler, mode: req.mode,
    warmupSteps: req.warmupSteps, seed: req.seed, backend: dg ? gpuPatchBackend(dg) : undefined,
    onStep: onStep && ((ev) => onStep({ ...ev, kind: 'image-step', preview: Array.from(ev.preview) })),
  });
  const { width, height } = model.config;
  const out: ImageResult = { rank: comm.rank, rows: res.rows, width, height, timings: { ...res.timings } };
  if (comm.rank !== 0) return out;
  const px = toPixels(res.image); // [C*H*W] in [0, 1]
  out.pixels = encodePixels(px);
  if (req.withSingle) {
    const t0 = performance.now();
    const denoiser = dg ? (z: Float32Array, t: number) => dg.forward(z, t) : undefined; // same compute as the patches
    const single = await sampleImage({ model, sampler, seed: req.seed, denoiser }); // [C*H*W]
    out.timings.singleMs = performance.now() - t0;
    out.single = encodePixels(toPixels(single));
    out.psnr_vs_single = psnr(res.image, single);
  }
  return out;
}
