// The fm-unet half of the DistriFusion image engine (docs/unet-spec.md): one class-conditional
// 32x32 image split into row patches over the group, and (rank 0, when asked) the single-device
// run of the same request on this peer's WGSL forward as the reference for psnr_vs_single.
import { ownedOrCopy, type Comm } from '../collectives/types';
import type { Gpu } from '../gpu/gpu';
import { loadUnet, UNET_CONFIG_METADATA_KEY, type UnetModel } from '../model/unet/config';
import { UnetGpu } from '../model/unet/forward-gpu';
import { sampleUnet, unetToPixels } from '../model/unet/sampler';
import { runUnetPatchParallel } from '../parallel/patch-unet';
import { unetGpuPatchBackend } from '../parallel/patch-unet-gpu';
import type { ImageRequest, ImageResult, ImageStepEvent } from './image-engine';
import { encodePixels } from './pixel-codec';

/**
 * True when a safetensors header names fm-unet's tensors (its class embedding and U-Net input conv),
 * or carries a U-Net config in its metadata (a widened U-Net, see loadUnet).
 */
export function isUnetSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 8) return false;
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (!Number.isSafeInteger(len) || 8 + len > bytes.byteLength) return false; // the loader reports the details
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as Record<string, unknown>;
    const meta = header.__metadata__ as Record<string, unknown> | undefined;
    return ('class_emb.weight' in header && 'conv_in.weight' in header) || typeof meta?.[UNET_CONFIG_METADATA_KEY] === 'string';
  } catch {
    return false;
  }
}

/** The file's metadata config when it has one (UNET_CONFIG_METADATA_KEY), else fm-unet's. */
export function loadUnetModel(bytes: Uint8Array): UnetModel {
  return loadUnet(bytes); // shape-checked by the spec's names; throws a clear error on a malformed file
}

/**
 * Values of a step preview that fit one control message: PeerJS's JSON channel refuses messages of
 * about 16 KB (MAX_CONTROL_MESSAGE_CHARS) and drops the connection, and a value rounded to 1e-4 takes
 * at most 7 characters. Larger patches (the widened U-Net's 64x64+ latents) send no preview.
 */
export const UNET_PREVIEW_MAX_VALUES = 1600;

/** Channel 0 of a preview [C, rows, W] rounded to 1e-4 (display only), or [] when it would not fit. */
export function compactPreview(preview: Float32Array, rows: number, width: number): number[] {
  const n = rows * width; // channel 0
  if (n > UNET_PREVIEW_MAX_VALUES) return [];
  return Array.from(preview.subarray(0, n), (v) => Math.round(v * 1e4) / 1e4);
}

/** f32 base64 is 16/3 characters a pixel: the result's image and single-device image (2 x 1200) fit one message. */
const UNET_PIXELS_MAX_VALUES = 1200;

/** PSNR in dB (peak 1) between two pixel images in [0, 1]; Infinity when identical. */
export function psnrPixels(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} pixels`);
  let mse = 0;
  for (let i = 0; i < a.length; i++) mse += (a[i] - b[i]) ** 2;
  mse /= a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

/**
 * `comm` sending copies: in the worker, remoteComm transfers each input's whole ArrayBuffer to the
 * page (detaching it), but the U-Net runner keeps using what it sent (its own rows of K/V, halos and
 * the send buffer, often views into a larger array). Buffers the sender handed over (the GPU
 * backend's piece read-backs, `handedOver`) go as they are: at 7-25 MB a step their copy was not small.
 */
function copyingComm(comm: Comm): Comm {
  return {
    rank: comm.rank,
    size: comm.size,
    allReduce: (d) => comm.allReduce(ownedOrCopy(d)),
    allGather: (d) => comm.allGather(ownedOrCopy(d)),
    broadcast: (d, root) => comm.broadcast(d ? d.slice() : null, root),
  };
}

/** gpu: null on a peer without WebGPU, which runs only backend 'cpu'. */
export async function runUnetImage(gpu: Gpu | null, comm: Comm, model: UnetModel, req: ImageRequest, onStep?: (ev: ImageStepEvent) => void): Promise<ImageResult> {
  const { numClasses, size: S } = model.config;
  const label = req.label ?? numClasses; // no class: the CFG null class (unconditional)
  if (!Number.isInteger(label) || label < 0 || label > numClasses) throw new Error(`fm-unet: class ${label} is not in 0..${numClasses}`);
  const guidance = req.guidance ?? 1;
  if (!Number.isFinite(guidance)) throw new Error(`fm-unet: guidance ${guidance} is not a number`);
  const sampler = { kind: req.sampler, steps: req.steps };
  // The patch run and the single-device reference use the same kind of compute: the WGSL kernels on
  // this peer's GPU, or (backend 'cpu') the plain-TS ops, so full_sync compares like with like.
  const g = (req.backend ?? 'gpu') === 'gpu' ? gpu : null; // this peer's GPU when it computes there
  if ((req.backend ?? 'gpu') === 'gpu' && !g) throw new Error('this peer has no WebGPU device: its image share must run on the plain-JS backend');
  const res = await runUnetPatchParallel({
    comm: copyingComm(comm), model, rank: comm.rank, nPeers: comm.size, sampler, mode: req.mode, warmupSteps: req.warmupSteps,
    seed: req.seed, label, guidance, backend: g ? unetGpuPatchBackend(g, model) : undefined, commFree: req.commFree, commDtype: req.commDtype,
    onStep: onStep && ((ev) => onStep({ ...ev, kind: 'image-step', preview: compactPreview(ev.preview, ev.rows[1] - ev.rows[0], ev.width) })),
  });
  const out: ImageResult = {
    rank: comm.rank, rows: res.rows, width: S, height: S,
    timings: { totalMs: res.totalMs, commWaitMs: res.commWaitMs, steps: req.steps, bytesSentPerStep: res.bytesSentPerStep },
  };
  if (comm.rank !== 0) return out;
  const px = unetToPixels(res.image); // [C*S*S] in [0, 1]
  // the panel shows channel 0 (fm-unet is grey, C = 1); a widened U-Net's 32x32+ latent would not fit one message
  if (S * S <= UNET_PIXELS_MAX_VALUES) out.pixels = encodePixels(px.subarray(0, S * S));
  if (req.withSingle) {
    const ug = g ? UnetGpu.shared(g, model) : null; // weights uploaded once per (device, model)
    const t0 = performance.now();
    const single = await sampleUnet({ model, sampler, seed: req.seed, label, guidance, denoiser: ug ? (x, t, y) => ug.forward(x, t, y) : undefined }); // [C*S*S]
    out.timings.singleMs = performance.now() - t0;
    const spx = unetToPixels(single); // [C*S*S]
    if (S * S <= UNET_PIXELS_MAX_VALUES) out.single = encodePixels(spx.subarray(0, S * S));
    out.psnr_vs_single = psnrPixels(px, spx);
  }
  return out;
}
