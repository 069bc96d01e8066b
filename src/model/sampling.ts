// vLLM-compatible sampling parameters and a seeded, counter-based sampler.
// Randomness comes from Philox4x32-10 keyed by the request seed and counted by (completion index,
// step): a draw depends only on (seed, index, step) and the full logits, never on which peers ran the
// forward, on tp, or on what was sampled before. The same request with the same seed therefore gives
// the same text on any mesh.
// Order of the logit transforms follows vLLM's v1 sampler: temperature -> min_p -> top_k -> top_p.

export class SamplingParamsError extends Error {
  override name = 'SamplingParamsError';
}

export interface SamplingParams {
  n: number;
  temperature: number; // 0 = greedy
  top_k: number; // 0 or -1 = off
  top_p: number; // (0, 1]
  min_p: number; // [0, 1]
  seed?: number;
  max_tokens: number;
  stop: string[];
  stop_token_ids: number[];
  ignore_eos: boolean;
}

export type SamplingParamsInput = Partial<Omit<SamplingParams, 'stop'>> & { stop?: string | string[]; seed?: number | null };

/** vLLM's defaults, and its validation messages (SamplingParams._verify_args). */
export function samplingParams(p: SamplingParamsInput = {}): SamplingParams {
  const out: SamplingParams = {
    n: p.n ?? 1,
    temperature: p.temperature ?? 1.0,
    top_k: p.top_k ?? 0,
    top_p: p.top_p ?? 1.0,
    min_p: p.min_p ?? 0.0,
    seed: p.seed ?? undefined,
    max_tokens: p.max_tokens ?? 16,
    stop: p.stop === undefined ? [] : typeof p.stop === 'string' ? [p.stop] : [...p.stop],
    stop_token_ids: p.stop_token_ids ? [...p.stop_token_ids] : [],
    ignore_eos: p.ignore_eos ?? false,
  };
  const bad = (m: string) => {
    throw new SamplingParamsError(m);
  };
  if (!Number.isInteger(out.n) || out.n < 1) bad(`n must be at least 1, got ${out.n}.`);
  if (!(out.temperature >= 0) || !Number.isFinite(out.temperature)) bad(`temperature must be non-negative, got ${out.temperature}.`);
  if (!(out.top_p > 0 && out.top_p <= 1)) bad(`top_p must be in (0, 1], got ${out.top_p}.`);
  if (!Number.isInteger(out.top_k) || out.top_k < -1) bad(`top_k must be 0 (disable), or at least 1, got ${out.top_k}.`);
  if (!(out.min_p >= 0 && out.min_p <= 1)) bad(`min_p must be in [0, 1], got ${out.min_p}.`);
  if (!Number.isInteger(out.max_tokens) || out.max_tokens < 1) bad(`max_tokens must be at least 1, got ${out.max_tokens}.`);
  if (out.seed !== undefined && (!Number.isSafeInteger(out.seed) || out.seed < 0))
    bad(`seed must be a non-negative safe integer, got ${out.seed}.`);
  if (out.stop.some((s) => typeof s !== 'string' || s.length === 0)) bad('stop strings must be non-empty strings.');
  if (out.stop_token_ids.some((t) => !Number.isInteger(t) || t < 0)) bad('stop_token_ids must be non-negative integers.');
  return out;
}

const NUMERIC_KEYS = ['n', 'temperature', 'top_k', 'top_p', 'min_p', 'max_tokens'] as const;

/**
 * SamplingParams from untrusted JSON (a request body): checks each known field's type, then applies
 * samplingParams()'s defaults and range checks. Unknown keys are ignored, as vLLM's API ignores them.
 */
export function parseSamplingParams(raw: Record<string, unknown>): SamplingParams {
  const bad = (m: string) => {
    throw new SamplingParamsError(m);
  };
  const p: SamplingParamsInput = {};
  for (const k of NUMERIC_KEYS) {
    const v = raw[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number') bad(`${k} must be a number, got ${typeof v}.`);
    p[k] = v as number;
  }
  if (raw.seed !== undefined && raw.seed !== null) {
    if (typeof raw.seed !== 'number') bad(`seed must be an integer, got ${typeof raw.seed}.`);
    p.seed = raw.seed as number;
  }
  if (raw.stop !== undefined && raw.stop !== null) {
    const st = raw.stop;
    if (typeof st !== 'string' && !(Array.isArray(st) && st.every((x) => typeof x === 'string')))
      bad('stop must be a string or a list of strings.');
    p.stop = st as string | string[];
  }
  if (raw.stop_token_ids !== undefined && raw.stop_token_ids !== null) {
    const st = raw.stop_token_ids;
    if (!Array.isArray(st) || !st.every((x) => typeof x === 'number')) bad('stop_token_ids must be a list of integers.');
    p.stop_token_ids = st as number[];
  }
  if (raw.ignore_eos !== undefined && raw.ignore_eos !== null) {
    if (typeof raw.ignore_eos !== 'boolean') bad('ignore_eos must be a boolean.');
    p.ignore_eos = raw.ignore_eos as boolean;
  }
  return samplingParams(p);
}

// --- Philox4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3") ---

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 (JS numbers are exact up to 2^53, so split in 16-bit halves). */
function mulhi(a: number, b: number): number {
  const aH = a >>> 16;
  const aL = a & 0xffff;
  const bH = b >>> 16;
  const bL = b & 0xffff;
  const ll = aL * bL;
  const mid1 = aH * bL;
  const mid2 = aL * bH;
  const carry = ((ll >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (aH * bH + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/** One Philox4x32-10 block: 4 uint32 counter words + 2 key words -> 4 uint32. */
export function philox4x32(ctr: readonly number[], key: readonly number[]): [number, number, number, number] {
  let [c0, c1, c2, c3] = ctr.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** A uniform double in [0, 1) (53 random bits) for draw (seed, sequence, step). */
export function uniform(seed: number, sequence: number, step: number): number {
  const key = [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
  const [a, b] = philox4x32([step >>> 0, Math.floor(step / 2 ** 32) >>> 0, sequence >>> 0, 0x74616273 /* 'tabs' */], key);
  return ((a >>> 5) * 2 ** 26 + (b >>> 6)) / 2 ** 53;
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i; // first max wins ties
  return best;
}

/**
 * Pick the next token from the full logits [vocab]. Greedy when temperature is 0; otherwise the
 * filtered distribution is sampled by inverse CDF in token-id order with u = uniform(seed, seq, step).
 */
export function sampleToken(logits: Float32Array, p: SamplingParams, seed: number, sequence: number, step: number): number {
  if (p.temperature === 0) return argmax(logits);
  const V = logits.length;
  const probs = new Float64Array(V); // [vocab]
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[i] / p.temperature);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += probs[i] = Math.exp(logits[i] / p.temperature - max);
  for (let i = 0; i < V; i++) probs[i] /= sum;
  // min_p: drop tokens below min_p times the top probability
  if (p.min_p > 0) {
    const top = Math.max(...probs);
    for (let i = 0; i < V; i++) if (probs[i] < p.min_p * top) probs[i] = 0;
  }
  const k = p.top_k > 0 ? Math.min(p.top_k, V) : V;
  if (k < V || p.top_p < 1) {
    // order by probability, ties by token id, so the kept set is deterministic
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
    let mass = 0;
    let kMass = 0;
    for (let j = 0; j < k; j++) kMass += probs[order[j]];
    let keep = 0;
    for (; keep < k; keep++) {
      // top_p: keep the smallest prefix whose mass reaches top_p (the token crossing it included)
      mass += probs[order[keep]];
      if (mass >= p.top_p * kMass) {
        keep++;
        break;
      }
    }
    for (let j = keep; j < V; j++) probs[order[j]] = 0;
  }
  let total = 0;
  for (let i = 0; i < V; i++) total += probs[i];
  const u = uniform(seed, sequence, step) * total;
  let acc = 0;
  let last = 0;
  for (let i = 0; i < V; i++) {
    if (probs[i] === 0) continue;
    acc += probs[i];
    last = i;
    if (u < acc) return i;
  }
  return last; // u landed in rounding slack at the very top
}

/** A fresh seed for requests that give none. */
export function randomSeed(): number {
  const a = new Uint32Array(2);
  crypto.getRandomValues(a);
  return a[0] + (a[1] & 0x1fffff) * 2 ** 32;
}
