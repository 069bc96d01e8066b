// fm-unet (docs/unet-spec.md): the class-conditional U-Net for Fashion-MNIST 32x32, its config, the
// linear-beta schedule, and the loader that reads every tensor by the spec's safetensors name with
// its shape checked. The network layout is derived from `levels` exactly as the spec lists it, so
// the loader, the CPU reference and the GPU forward all walk the same structure.
import { getTensor, parseSafetensors, type SafeTensorFile } from '../ddpm/safetensors';

export interface UnetLevel {
  ch: number; // channels of this resolution's ResBlock outputs
  attn: boolean; // an Attention block after the ResBlock (down and up)
}

export interface UnetConfig {
  size: number; // H = W
  inChannels: number;
  baseCh: number; // conv_in output channels
  levels: UnetLevel[]; // resolution i has size / 2^i
  timeFreqDim: number; // sinusoidal embedding width (64)
  tembDim: number; // time/class embedding width (256)
  numClasses: number; // 10 real classes; class `numClasses` is the CFG null class
  groups: number; // GroupNorm groups
  eps: number; // GroupNorm eps
  nT: number;
  betaStart: number;
  betaEnd: number;
}

export const FM_UNET_CONFIG: UnetConfig = {
  size: 32,
  inChannels: 1,
  baseCh: 64,
  levels: [
    { ch: 64, attn: false },
    { ch: 128, attn: true },
    { ch: 128, attn: true },
  ],
  timeFreqDim: 64,
  tembDim: 256,
  numClasses: 10,
  groups: 8,
  eps: 1e-5,
  nT: 1000,
  betaStart: 1e-4,
  betaEnd: 0.02,
};

export interface Linear {
  w: Float32Array; // [nOut, nIn]
  b: Float32Array; // [nOut]
  nIn: number;
  nOut: number;
}
export interface Conv {
  w: Float32Array; // [cout, cin, k, k]
  b: Float32Array; // [cout]
  cin: number;
  cout: number;
  k: number;
}
export interface GroupNormW {
  gamma: Float32Array; // [c]
  beta: Float32Array; // [c]
  c: number;
}
export interface ResBlockW {
  name: string;
  cin: number;
  cout: number;
  norm1: GroupNormW;
  conv1: Conv;
  temb: Linear; // [cout, tembDim]
  norm2: GroupNormW;
  conv2: Conv;
  skip: Conv | null; // 1x1 when cin != cout
}
export interface AttnW {
  name: string;
  c: number;
  norm: GroupNormW;
  qkv: Conv; // [3c, c, 1, 1]: rows q, k, v
  proj: Conv; // [c, c, 1, 1]
}
export interface DownLevelW {
  res: ResBlockW;
  attn: AttnW | null;
  down: Conv | null; // 3x3 stride 2 pad 1 (not on the last level)
}
export interface UpLevelW {
  res: ResBlockW; // on concat(h, skip)
  attn: AttnW | null;
  up: Conv | null; // nearest x2 then 3x3 pad 1 (not on level 0)
}

export interface UnetModel {
  config: UnetConfig;
  timeLin1: Linear; // [tembDim, timeFreqDim]
  timeLin2: Linear; // [tembDim, tembDim]
  classEmb: Float32Array; // [numClasses + 1, tembDim]
  convIn: Conv; // [baseCh, inChannels, 3, 3]
  down: DownLevelW[]; // index = level
  mid: { res1: ResBlockW; attn: AttnW; res2: ResBlockW };
  up: UpLevelW[]; // index = level (run from the deepest level up)
  outNorm: GroupNormW; // [levels[0].ch]
  outConv: Conv; // [inChannels, levels[0].ch, 3, 3]
  betas: Float32Array; // [nT], beta[i], i = 0..nT-1
  alphaBars: Float32Array; // [nT], prod_{j<=i} (1 - beta[j])
}

/** The spec's schedule in float64 then stored f32 (the trainer's torch.linspace is f32 too). */
export function linearSchedule(c: UnetConfig): { betas: Float32Array; alphaBars: Float32Array } {
  const betas = new Float32Array(c.nT); // [nT]
  const alphaBars = new Float32Array(c.nT); // [nT]
  let ab = 1;
  for (let i = 0; i < c.nT; i++) {
    const b = c.betaStart + ((c.betaEnd - c.betaStart) * i) / (c.nT - 1);
    betas[i] = b;
    ab *= 1 - b;
    alphaBars[i] = ab;
  }
  return { betas, alphaBars };
}

/** Tensor source: a parsed safetensors file, or any name -> data lookup with the same checks. */
export type TensorGetter = (name: string, shape: number[]) => Float32Array;

export function safetensorsGetter(f: SafeTensorFile): TensorGetter {
  return (name, shape) => getTensor(f, name, shape);
}

/** Every (name, shape) the spec defines, in a fixed order (used by the loader and by test writers). */
export function unetTensorShapes(c: UnetConfig = FM_UNET_CONFIG): [string, number[]][] {
  const out: [string, number[]][] = [];
  const T = c.tembDim;
  const lin = (n: string, o: number, i: number) => out.push([`${n}.weight`, [o, i]], [`${n}.bias`, [o]]);
  const conv = (n: string, o: number, i: number, k: number) => out.push([`${n}.weight`, [o, i, k, k]], [`${n}.bias`, [o]]);
  const norm = (n: string, ch: number) => out.push([`${n}.weight`, [ch]], [`${n}.bias`, [ch]]);
  const res = (p: string, cin: number, cout: number) => {
    norm(`${p}.norm1`, cin);
    conv(`${p}.conv1`, cout, cin, 3);
    lin(`${p}.temb`, cout, T);
    norm(`${p}.norm2`, cout);
    conv(`${p}.conv2`, cout, cout, 3);
    if (cin !== cout) conv(`${p}.skip`, cout, cin, 1);
  };
  const attn = (p: string, ch: number) => {
    norm(`${p}.norm`, ch);
    conv(`${p}.qkv`, 3 * ch, ch, 1);
    conv(`${p}.proj`, ch, ch, 1);
  };
  lin('time.lin1', T, c.timeFreqDim);
  lin('time.lin2', T, T);
  out.push(['class_emb.weight', [c.numClasses + 1, T]]);
  conv('conv_in', c.baseCh, c.inChannels, 3);
  const L = c.levels.length;
  let h = c.baseCh;
  const skips: number[] = [];
  for (let i = 0; i < L; i++) {
    const ch = c.levels[i].ch;
    res(`down.${i}.res`, h, ch);
    h = ch;
    if (c.levels[i].attn) attn(`down.${i}.attn`, ch);
    skips.push(ch);
    if (i + 1 < L) conv(`down.${i}.down.conv`, ch, ch, 3);
  }
  res('mid.res1', h, h);
  attn('mid.attn', h);
  res('mid.res2', h, h);
  for (let i = L - 1; i >= 0; i--) {
    const ch = c.levels[i].ch;
    res(`up.${i}.res`, h + skips[i], ch);
    h = ch;
    if (c.levels[i].attn) attn(`up.${i}.attn`, ch);
    if (i > 0) conv(`up.${i}.up.conv`, ch, ch, 3);
  }
  norm('out.norm', h);
  conv('out.conv', c.inChannels, h, 3);
  return out;
}

/** Build the model through `get` (shape-checked by name); the schedule is computed from the config. */
export function buildUnet(get: TensorGetter, c: UnetConfig = FM_UNET_CONFIG): UnetModel {
  const T = c.tembDim;
  const lin = (n: string, nOut: number, nIn: number): Linear => ({
    w: get(`${n}.weight`, [nOut, nIn]), b: get(`${n}.bias`, [nOut]), nIn, nOut,
  });
  const conv = (n: string, cout: number, cin: number, k: number): Conv => ({
    w: get(`${n}.weight`, [cout, cin, k, k]), b: get(`${n}.bias`, [cout]), cin, cout, k,
  });
  const norm = (n: string, ch: number): GroupNormW => ({ gamma: get(`${n}.weight`, [ch]), beta: get(`${n}.bias`, [ch]), c: ch });
  const res = (p: string, cin: number, cout: number): ResBlockW => ({
    name: p, cin, cout,
    norm1: norm(`${p}.norm1`, cin),
    conv1: conv(`${p}.conv1`, cout, cin, 3),
    temb: lin(`${p}.temb`, cout, T),
    norm2: norm(`${p}.norm2`, cout),
    conv2: conv(`${p}.conv2`, cout, cout, 3),
    skip: cin !== cout ? conv(`${p}.skip`, cout, cin, 1) : null,
  });
  const attn = (p: string, ch: number): AttnW => ({
    name: p, c: ch, norm: norm(`${p}.norm`, ch), qkv: conv(`${p}.qkv`, 3 * ch, ch, 1), proj: conv(`${p}.proj`, ch, ch, 1),
  });
  for (const g of [c.baseCh, ...c.levels.map((l) => l.ch)]) {
    if (g % c.groups !== 0) throw new Error(`unet: ${g} channels do not split into ${c.groups} groups`);
  }
  const L = c.levels.length;
  let h = c.baseCh;
  const skips: number[] = [];
  const down: DownLevelW[] = [];
  for (let i = 0; i < L; i++) {
    const ch = c.levels[i].ch;
    const r = res(`down.${i}.res`, h, ch);
    h = ch;
    skips.push(ch);
    down.push({ res: r, attn: c.levels[i].attn ? attn(`down.${i}.attn`, ch) : null, down: i + 1 < L ? conv(`down.${i}.down.conv`, ch, ch, 3) : null });
  }
  const mid = { res1: res('mid.res1', h, h), attn: attn('mid.attn', h), res2: res('mid.res2', h, h) };
  const up: UpLevelW[] = new Array(L);
  for (let i = L - 1; i >= 0; i--) {
    const ch = c.levels[i].ch;
    const r = res(`up.${i}.res`, h + skips[i], ch);
    h = ch;
    up[i] = { res: r, attn: c.levels[i].attn ? attn(`up.${i}.attn`, ch) : null, up: i > 0 ? conv(`up.${i}.up.conv`, ch, ch, 3) : null };
  }
  return {
    config: c,
    timeLin1: lin('time.lin1', T, c.timeFreqDim),
    timeLin2: lin('time.lin2', T, T),
    classEmb: get('class_emb.weight', [c.numClasses + 1, T]),
    convIn: conv('conv_in', c.baseCh, c.inChannels, 3),
    down,
    mid,
    up,
    outNorm: norm('out.norm', h),
    outConv: conv('out.conv', c.inChannels, h, 3),
    ...linearSchedule(c),
  };
}

/**
 * The safetensors `__metadata__` key holding a UnetConfig as JSON: a file with other channel counts
 * or sizes than fm-unet (e.g. the Stable-Diffusion-like widened U-Net of bench/unet-widened-model.ts)
 * carries its architecture with it, so the normal loader path (the image engine) needs no side channel.
 */
export const UNET_CONFIG_METADATA_KEY = 'tabmesh_unet_config';

const CONFIG_NUMBERS = ['size', 'inChannels', 'baseCh', 'timeFreqDim', 'tembDim', 'numClasses', 'groups', 'eps', 'nT', 'betaStart', 'betaEnd'] as const;

/** The `__metadata__` entry for `c` (safetensors metadata values are strings). */
export function unetConfigMetadata(c: UnetConfig): Record<string, string> {
  return { [UNET_CONFIG_METADATA_KEY]: JSON.stringify(c) };
}

/** The UnetConfig stored in safetensors metadata, checked field by field; null when the key is absent. */
export function unetConfigFromMetadata(meta: Record<string, string>): UnetConfig | null {
  const raw = meta[UNET_CONFIG_METADATA_KEY];
  if (raw === undefined) return null;
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(raw) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`unet: metadata ${UNET_CONFIG_METADATA_KEY} is not JSON (${(e as Error).message})`);
  }
  const bad = (why: string): never => {
    throw new Error(`unet: metadata ${UNET_CONFIG_METADATA_KEY}: ${why}`);
  };
  if (typeof j !== 'object' || j === null) bad('not an object');
  for (const k of CONFIG_NUMBERS) if (typeof j[k] !== 'number' || !Number.isFinite(j[k])) bad(`'${k}' is not a number`);
  const levels = j.levels;
  if (!Array.isArray(levels) || levels.length < 1) bad('levels is not a non-empty array');
  const lv = (levels as unknown[]).map((l, i) => {
    const o = l as { ch?: unknown; attn?: unknown };
    if (typeof o?.ch !== 'number' || !Number.isInteger(o.ch) || o.ch < 1 || typeof o.attn !== 'boolean') bad(`levels[${i}] is not { ch, attn }`);
    return { ch: o.ch as number, attn: o.attn as boolean };
  });
  const c = { levels: lv } as UnetConfig;
  for (const k of CONFIG_NUMBERS) (c as unknown as Record<string, number>)[k] = j[k] as number;
  for (const k of ['size', 'inChannels', 'baseCh', 'timeFreqDim', 'tembDim', 'numClasses', 'groups', 'nT'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) bad(`'${k}' = ${c[k]} is not a positive integer`);
  }
  if (c.timeFreqDim % 2 !== 0) bad(`timeFreqDim ${c.timeFreqDim} is odd (sin and cos halves)`);
  return c;
}

/**
 * Load a U-Net .safetensors. The architecture is `c` when given, else the file's metadata config
 * (UNET_CONFIG_METADATA_KEY), else fm-unet's (FM_UNET_CONFIG: fm-unet.safetensors has no metadata).
 * `sched.betas` [nT] is optional; when present it must match the spec's linear schedule (within f32
 * rounding), since the samplers use the computed schedule.
 */
export function loadUnet(bytes: Uint8Array, config?: UnetConfig): UnetModel {
  const f = parseSafetensors(bytes);
  const c = config ?? unetConfigFromMetadata(f.metadata) ?? FM_UNET_CONFIG;
  const model = buildUnet(safetensorsGetter(f), c);
  if (f.tensors.has('sched.betas')) {
    const stored = getTensor(f, 'sched.betas', [c.nT]);
    for (let i = 0; i < c.nT; i++) {
      if (Math.abs(stored[i] - model.betas[i]) > 1e-7) {
        throw new Error(`unet: sched.betas[${i}] = ${stored[i]} differs from the spec's linear schedule ${model.betas[i]}`);
      }
    }
  }
  return model;
}
