// The coordinator's DistriFusion panel and `window.tabmesh.generateImage`: one diffusion image split
// into row patches over N peers, shown with each peer's rows outlined in its colour, next to the
// single-device result of the same request and the PSNR between them.
import type { ImageBackend, Job, JobEvent, RosterEntry } from '../src/session/protocol';
import type { Roster } from '../src/scheduler/roster';
import type { JobHandle } from '../src/scheduler/jobs';
import type { ImageResult } from '../src/engines/image-engine';
import { isWireEnc, type WireEnc } from '../src/parallel/patch-unet-wire';
import { decodePixels } from '../src/engines/pixel-codec';
import { el, showAlert } from './ui';
import { createTimeline, type Timeline } from './timeline-chart';
import type { UnetCheckOptions, UnetCheckResult } from './unet-check';

type Mode = 'full_sync' | 'corrected_async_gn' | 'stale_gn' | 'sync_gn' | 'no_sync';

export interface ImageRequest {
  model?: string; // a diffusion model name from /api/models (default: the first one)
  prompt?: string; // class name from the model's config.json (case-insensitive; none: unconditional); ddpm-mnist-cnn ignores it
  guidance?: number; // classifier-free guidance weight (class-conditional models; default: the config's default_guidance)
  /** Where peers compute (patches, and rank 0's single-device reference): 'auto' (default) picks per peer,
   *  WebGPU where it has it and plain JS where not; 'gpu' or 'cpu' forces every peer. */
  backend?: 'auto' | ImageBackend;
  seed?: number;
  steps?: number;
  sampler?: 'ddpm' | 'ddim';
  mode?: Mode;
  warmup_steps?: number;
  peers?: number;
  peer_ids?: string[]; // these peers in this rank order instead of the `peers` fastest free ones
  compare?: boolean; // also run single-device on rank 0 (default true)
  comm_dtype?: WireEnc; // fm-unet async steps: wire format of the exchange (default i8, half of f16's bytes at the same measured quality; sync steps always f32)
}

export interface ImageResponse {
  width: number;
  height: number;
  pixels: number[]; // [H*W] in [0, 1]
  single: number[] | null; // [H*W] the single-device result of the same request, when compared
  psnr_vs_single: number | null;
  timings: { wall_ms: number; per_peer: ImageResult['timings'][]; single_ms?: number };
  rows: [number, number][];
  peers: string[]; // rank order
  backends: ImageBackend[]; // per rank: where that peer computed
}

export interface ImageApi {
  generateImage(req: ImageRequest): Promise<ImageResponse>;
  /** fm-unet's WGSL forward vs onnxruntime-web (wasm) vs PyTorch on the golden inputs (loaded on first use). */
  checkUnetOnnx(opts?: UnetCheckOptions): Promise<UnetCheckResult>;
}

/** What a diffusion model's config.json (beside its weights) says about prompts. */
interface ModelInfo {
  classes: string[] | null; // class-conditional models: class i's name; null: unconditional
  defaultGuidance: number;
}

interface Ctx {
  roster: Roster;
  runJob: <R>(job: Job & { group: string[] }, onEvent?: (peer: string, ev: JobEvent) => void) => JobHandle<R>;
  models: () => Promise<{ name: string; url: string; kind: string }[]>;
  log: (line: string) => void;
}

/** A peer without any WebGPU device reports adapter vendor 'none' (it runs the LLM on ORT wasm). */
const hasWebGpu = (e: RosterEntry): boolean => e.adapter.vendor !== 'none';
const BACKEND_LABEL: Record<ImageBackend, string> = { gpu: 'WebGPU', cpu: 'CPU (plain JS)' };

/**
 * Per rank: the forced backend, or (auto) WebGPU where the peer has it and plain JS where it has
 * not. Mixing is sound: both backends exchange the same flat per-layer segments (the plan's
 * registry in src/parallel/patch-unet-plan.ts: halo rows [nb, C, W], GroupNorm [sum, sumsq] per
 * group, attention input rows [c, n] that each receiver projects to K/V itself), so a full_sync group
 * of mixed ranks still equals one device.
 */
function imageBackends(entries: RosterEntry[], choice: 'auto' | ImageBackend): ImageBackend[] {
  if (choice === 'cpu') return entries.map(() => 'cpu');
  if (choice === 'gpu') {
    const lacking = entries.filter((e) => !hasWebGpu(e)).map((e) => e.id);
    if (lacking.length) throw new Error(`backend "gpu" needs WebGPU, which peer${lacking.length > 1 ? 's' : ''} ${lacking.join(', ')} lack${lacking.length > 1 ? '' : 's'}: use backend "auto" (such peers compute in plain JS) or "cpu"`);
    return entries.map(() => 'gpu');
  }
  if (choice !== 'auto') throw new Error(`unknown backend "${String(choice)}": use auto, gpu or cpu`);
  return entries.map((e) => (hasWebGpu(e) ? 'gpu' : 'cpu'));
}

const COLOURS = ['#ef4444', '#3b82f6', '#22c55e', '#eab308', '#a855f7', '#14b8a6', '#f97316', '#ec4899'];
const SCALE = 8; // 28 px MNIST drawn at 224 px, 32 px fm-unet at 256 px

function draw(canvas: HTMLCanvasElement, w: number, h: number, px: number[], rows: [number, number][] = []): void {
  canvas.width = w * SCALE;
  canvas.height = h * SCALE;
  const g = canvas.getContext('2d')!;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = Math.round(px[y * w + x] * 255);
    g.fillStyle = `rgb(${v},${v},${v})`;
    g.fillRect(x * SCALE, y * SCALE, SCALE, SCALE);
  }
  rows.forEach(([r0, r1], i) => {
    g.strokeStyle = COLOURS[i % COLOURS.length];
    g.lineWidth = 3;
    g.strokeRect(1.5, r0 * SCALE + 1.5, w * SCALE - 3, (r1 - r0) * SCALE - 3);
  });
}

/** config.json beside a model's weights (e.g. /fm-unet/config.json); models without one are unconditional. */
async function fetchModelInfo(url: string): Promise<ModelInfo> {
  const none: ModelInfo = { classes: null, defaultGuidance: 1 };
  try {
    const res = await fetch(new URL('config.json', new URL(url, location.href)));
    if (!res.ok) return none;
    const cfg = (await res.json()) as { classes?: unknown; default_guidance?: unknown };
    const classes = Array.isArray(cfg.classes) && cfg.classes.every((c) => typeof c === 'string') ? (cfg.classes as string[]) : null;
    return { classes, defaultGuidance: classes && typeof cfg.default_guidance === 'number' ? cfg.default_guidance : 1 };
  } catch {
    return none; // no config or not JSON: treat as unconditional
  }
}

export function mountImagePanel(app: HTMLElement, ctx: Ctx): ImageApi {
  const modelSel = el('select', { 'data-testid': 'image-model' });
  const prompt = el('select', { 'data-testid': 'image-prompt' });
  const guidance = el('input', { type: 'number', value: '1', step: '0.5', min: '0', 'data-testid': 'image-guidance' });
  const backend = el('select', { 'data-testid': 'image-backend' }, el('option', { value: 'auto' }, 'auto (WebGPU where a peer has it)'), el('option', { value: 'gpu' }, 'WebGPU'), el('option', { value: 'cpu' }, 'CPU (plain JS)'));
  const infos = new Map<string, Promise<ModelInfo>>(); // url -> its config, fetched once
  const infoOf = (url: string): Promise<ModelInfo> => {
    let p = infos.get(url);
    if (!p) infos.set(url, (p = fetchModelInfo(url)));
    return p;
  };
  const seed = el('input', { type: 'number', value: '1', 'data-testid': 'image-seed' });
  const steps = el('input', { type: 'number', value: '20', min: '1', 'data-testid': 'image-steps' });
  const sampler = el('select', { 'data-testid': 'image-sampler' }, el('option', { value: 'ddim' }, 'DDIM'), el('option', { value: 'ddpm' }, 'DDPM'));
  const mode = el('select', { 'data-testid': 'image-mode' }, ...['corrected_async_gn', 'full_sync', 'stale_gn', 'sync_gn', 'no_sync'].map((m) => el('option', { value: m }, m)));
  const warmup = el('input', { type: 'number', value: '2', min: '0', 'data-testid': 'image-warmup' });
  // the async steps' exchange on the wire: i8 (default) is half of f16's bytes at the same measured quality
  const wire = el('select', { 'data-testid': 'image-wire' }, ...['i8', 'f16', 'f32'].map((m) => el('option', { value: m }, m)));
  const peers = el('input', { type: 'number', value: '2', min: '1', 'data-testid': 'image-peers' });
  const go = el('button', { 'data-testid': 'generate-image' }, 'Generate image');
  const parallel = el('canvas', { 'data-testid': 'image-parallel' });
  const single = el('canvas', { 'data-testid': 'image-single' });
  const info = el('p', { 'data-testid': 'image-psnr' });
  const legend = el('p', { 'data-testid': 'image-peers' }); // each peer's colour and backend, from the start of a run
  const stats = el('table', { 'data-testid': 'image-stats' });
  const progress = el('p', { class: 'muted', 'data-testid': 'image-progress' });
  const timelineCanvas = el('canvas', { 'data-testid': 'image-timeline', width: '720', height: '160' });
  let timeline: Timeline | null = null;
  const field = (label: string, input: HTMLElement) => el('label', {}, label, input);
  app.append(el('section', {}, el('h2', {}, 'DistriFusion (patch-parallel diffusion)'),
    el('div', { class: 'grid' }, field('model', modelSel), field('prompt (class)', prompt), field('guidance', guidance), field('compute', backend), field('seed', seed), field('steps', steps), field('sampler', sampler), field('mode', mode), field('warmup_steps', warmup), field('wire', wire), field('peers', peers)),
    el('p', {}, go), el('div', { class: 'join' }, el('figure', {}, parallel, el('figcaption', {}, 'patch-parallel (rows outlined per peer)')), el('figure', {}, single, el('figcaption', {}, 'single device'))), legend, progress, info, stats,
    el('h3', {}, 'Per-step timeline (compute in the peer\'s colour, waiting on the exchange in grey)'), timelineCanvas));

  // The selectors follow the server's diffusion models; the class list follows the chosen model.
  const diffusionModels = async () => (await ctx.models()).filter((m) => m.kind === 'diffusion');
  const showClasses = async () => {
    const entry = (await diffusionModels()).find((m) => m.name === modelSel.value);
    const info = entry ? await infoOf(entry.url) : null;
    const classes = info?.classes ?? null;
    prompt.replaceChildren(...(classes ? classes.map((c) => el('option', { value: c }, c)) : [el('option', { value: '' }, '(unconditional model)')]));
    prompt.toggleAttribute('disabled', !classes);
    guidance.toggleAttribute('disabled', !classes);
    guidance.value = String(info?.defaultGuidance ?? 1);
  };
  modelSel.addEventListener('change', () => void showClasses());
  void diffusionModels().then((list) => {
    modelSel.replaceChildren(...list.map((m) => el('option', { value: m.name }, m.name)));
    return showClasses();
  }, () => undefined); // the LLM panel already reports an unreachable /api/models

  /** The class index for `prompt` (case-insensitive), or the null class when none is given. */
  const labelFor = (name: string, info: ModelInfo, p: string | undefined): number | undefined => {
    if (!info.classes) return undefined; // unconditional model: the prompt is ignored
    if (p === undefined || p.trim() === '') return info.classes.length; // the CFG null class: unconditional
    const i = info.classes.findIndex((c) => c.toLowerCase() === p.trim().toLowerCase());
    if (i < 0) throw new Error(`unknown class "${p}" for ${name}; its classes are: ${info.classes.map((c) => `"${c}"`).join(', ')}`);
    return i;
  };

  const generateImage = async (req: ImageRequest): Promise<ImageResponse> => {
    const list = await diffusionModels();
    const entry = req.model ? list.find((m) => m.name === req.model) : list[0];
    if (!entry) throw new Error(req.model ? `unknown diffusion model "${req.model}" (the server offers: ${list.map((m) => m.name).join(', ') || 'none'})` : 'the server offers no diffusion model');
    const info = await infoOf(entry.url);
    const label = labelFor(entry.name, info, req.prompt); // checked before any peer is taken
    const w = label === undefined ? undefined : (req.guidance ?? info.defaultGuidance);
    if (w !== undefined && !Number.isFinite(w)) throw new Error(`guidance must be a number, got ${req.guidance}`);
    if (req.comm_dtype !== undefined && !isWireEnc(req.comm_dtype)) throw new Error(`comm_dtype must be f32, f16 or i8, got ${JSON.stringify(req.comm_dtype)}`);
    const group = req.peer_ids ? checkedPeers(req.peer_ids) : ctx.roster.pick(req.peers ?? 2);
    const n = req.peer_ids?.length ?? req.peers ?? 2;
    if (group.length < n) throw new Error(`${n} free peers needed; ${group.length} of ${ctx.roster.list().length} connected peers are free (the others are busy)`);
    const backends = imageBackends(group.map((p) => ctx.roster.get(p)!), req.backend ?? 'auto'); // [n] per rank
    for (const p of group) ctx.roster.setState(p, 'busy');
    try {
      return await runImage(group, backends, req, entry, label, w);
    } finally {
      for (const p of group) if (ctx.roster.has(p)) ctx.roster.setState(p, 'ready');
    }
  };

  /** An explicit group (rank order): connected, free, no repeats. */
  const checkedPeers = (ids: string[]): string[] => {
    if (ids.length === 0) throw new Error('peer_ids is empty');
    if (new Set(ids).size !== ids.length) throw new Error(`peer_ids repeats a peer: ${ids.join(', ')}`);
    const unknown = ids.filter((id) => !ctx.roster.has(id));
    if (unknown.length) throw new Error(`unknown peer(s) ${unknown.join(', ')} (connected: ${ctx.roster.ids().join(', ') || 'none'})`);
    const busy = ids.filter((id) => ctx.roster.get(id)!.state !== 'ready');
    if (busy.length) throw new Error(`peer(s) ${busy.join(', ')} are busy with another job`);
    return [...ids];
  };

  const runImage = async (group: string[], backends: ImageBackend[], req: ImageRequest, entry: { name: string; url: string }, label?: number, w?: number): Promise<ImageResponse> => {
    const n = group.length;
    const t0 = performance.now();
    ctx.log(`image (${entry.name}${label === undefined ? '' : `, class ${label}, guidance ${w}`}) on ${n} peer(s) (${backends.join(', ')}), mode ${req.mode ?? 'corrected_async_gn'}`);
    legend.replaceChildren(...group.map((p, i) => el('span', { style: `color:${COLOURS[i % COLOURS.length]}; margin-right:1.5em`, 'data-testid': 'image-peer-backend', 'data-peer': p },
      `■ peer ${i} …${p.slice(-6)}: ${BACKEND_LABEL[backends[i]]}`)));
    // Live view: each peer's rows of the predicted image are painted as its step events arrive.
    let live: { w: number; h: number; px: number[] } | null = null;
    const liveRows: [number, number][] = group.map(() => [0, 0]);
    let paintQueued = false;
    timeline?.destroy();
    timeline = createTimeline(timelineCanvas, group.map((p, i) => `peer ${i} ${p.slice(-6)} (${backends[i]})`), COLOURS);
    const onEvent = (peer: string, ev: JobEvent) => {
      if (ev.kind !== 'image-step') return;
      const i = group.indexOf(peer);
      const [a, b] = ev.rows;
      const w = ev.width;
      if (!live) live = { w, h: 0, px: [] };
      live.h = Math.max(live.h, b);
      for (let k = 0; k < (b - a) * w; k++) live.px[a * w + k] = ev.preview[k];
      liveRows[i] = ev.rows;
      progress.textContent = `step ${ev.step + 1}/${ev.steps}${ev.sync ? ' (synchronous)' : ''}`;
      timeline?.add(i, ev.step, ev.startMs, ev.computeMs, ev.commWaitMs, ev.sync);
      if (paintQueued) return;
      paintQueued = true;
      requestAnimationFrame(() => {
        paintQueued = false;
        if (live) draw(parallel, live.w, live.h, Array.from({ length: live.w * live.h }, (_, k) => live!.px[k] ?? 0.5), liveRows);
      });
    };
    const h = ctx.runJob<ImageResult>({
      kind: 'image', group, model: { name: entry.name, url: entry.url }, seed: req.seed ?? 0, steps: req.steps ?? 20,
      sampler: req.sampler ?? 'ddim', mode: req.mode ?? 'corrected_async_gn', warmupSteps: req.warmup_steps ?? 2, withSingle: req.compare ?? true,
      ...(label === undefined ? {} : { label, guidance: w }), backends, ...(req.comm_dtype ? { commDtype: req.comm_dtype } : {}),
    }, onEvent);
    const results = await h.done;
    const r0 = results[0];
    const rows = results.map((r) => r.rows);
    const pixels = r0.pixels ? decodePixels(r0.pixels) : []; // [H*W]
    const singlePx = r0.single ? decodePixels(r0.single) : null; // [H*W]
    draw(parallel, r0.width, r0.height, pixels, rows);
    if (singlePx) draw(single, r0.width, r0.height, singlePx);
    const psnr = r0.psnr_vs_single ?? null;
    info.textContent = psnr === null ? '' : `PSNR vs single device: ${Number.isFinite(psnr) ? psnr.toFixed(2) + ' dB' : 'identical (∞)'}`;
    stats.replaceChildren(el('tr', {}, ...['peer', 'compute', 'rows', 'total ms', 'waiting on comm ms', 'bytes sent / step'].map((x) => el('th', {}, x))),
      ...results.map((r, i) => el('tr', {}, el('td', { style: `color:${COLOURS[i % COLOURS.length]}` }, group[i].slice(-12)), el('td', { 'data-testid': 'image-peer-compute' }, BACKEND_LABEL[backends[i]]), el('td', {}, `${r.rows[0]}–${r.rows[1]}`),
        el('td', {}, r.timings.totalMs.toFixed(0)), el('td', {}, r.timings.commWaitMs.toFixed(0)), el('td', {}, String(r.timings.bytesSentPerStep)))));
    return { width: r0.width, height: r0.height, pixels, single: singlePx, psnr_vs_single: psnr, rows, peers: group, backends, timings: { wall_ms: performance.now() - t0, per_peer: results.map((r) => r.timings), single_ms: r0.timings.singleMs } };
  };

  go.addEventListener('click', async () => {
    go.setAttribute('disabled', '');
    try {
      const conditional = !prompt.hasAttribute('disabled');
      await generateImage({ model: modelSel.value || undefined, prompt: conditional ? prompt.value : undefined, guidance: conditional ? Number(guidance.value) : undefined, backend: backend.value as 'auto' | ImageBackend, seed: Number(seed.value), steps: Number(steps.value), sampler: sampler.value as 'ddim' | 'ddpm', mode: mode.value as Mode, warmup_steps: Number(warmup.value), peers: Number(peers.value), comm_dtype: wire.value as WireEnc });
    } catch (e) {
      showAlert(`Image generation failed: ${(e as Error).message}`, 'error', 'image-error');
    } finally {
      go.removeAttribute('disabled');
    }
  });
  const checkUnetOnnx = async (opts?: UnetCheckOptions): Promise<UnetCheckResult> => (await import('./unet-check')).checkUnetOnnx(opts);
  return { generateImage, checkUnetOnnx };
}
