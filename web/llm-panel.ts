// The coordinator's LLM panel and `window.tabmesh.generate`: choose a model and
// tensor_parallel_size, type a prompt, set sampling, stream the output, see per-peer stats.
import { LOCAL_MODEL_SCHEME, type Job, type JobEvent } from '../src/session/protocol';
import type { Roster } from '../src/scheduler/roster';
import type { JobHandle } from '../src/scheduler/jobs';
import { loadGgufIndex } from '../src/model/gguf';
import { randomSeed } from '../src/model/sampling';
import { el, fmtBytes, showAlert } from './ui';

export interface GenerateRequest {
  model: string; // a name from /api/models or an absolute URL
  prompt: string;
  tensor_parallel_size?: number;
  sampling?: { temperature?: number; top_k?: number; top_p?: number; min_p?: number; n?: number; seed?: number; max_tokens?: number; stop?: string[] };
  onToken?: (ev: { index: number; tokenId: number; text: string }) => void;
}

export interface GenerateResponse {
  outputs: { text: string; token_ids: number[]; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number };
  timings: Record<string, number>;
  peers: string[];
}

export interface LlmApi {
  models(): Promise<{ name: string; url: string; bytes: number; kind: string }[]>;
  generate(req: GenerateRequest): Promise<GenerateResponse>;
  validateModel(file: Blob): Promise<{ ok: true; config: unknown } | { ok: false; error: string }>;
}

interface Ctx {
  roster: Roster;
  runJob: <R>(job: Job & { group: string[] }, onEvent?: (peer: string, ev: JobEvent) => void) => JobHandle<R>;
  cancel: (jobId: string) => void;
  log: (line: string) => void;
  localFiles: Map<string, File>; // picked on this page; peers read them through the coordinator
}

const MAX_SEQ_LEN = 1024; // KV cache positions requested per peer; each peer caps it by its own limits

export function mountLlmPanel(app: HTMLElement, ctx: Ctx): LlmApi {
  const modelSel = el('select', { 'data-testid': 'model' });
  const urlInput = el('input', { placeholder: 'or a model URL (https://…/model.gguf)', 'data-testid': 'model-url', size: '40' });
  const fileInput = el('input', { type: 'file', accept: '.gguf', 'data-testid': 'model-file' });
  const tpSel = el('input', { type: 'number', min: '1', value: '1', 'data-testid': 'tp-size' });
  const prompt = el('textarea', { 'data-testid': 'prompt', placeholder: 'Once upon a time' });
  const maxTokens = el('input', { type: 'number', min: '1', value: '64', 'data-testid': 'max-tokens' });
  const temperature = el('input', { type: 'number', min: '0', step: '0.1', value: '0', 'data-testid': 'temperature' });
  const topP = el('input', { type: 'number', min: '0', max: '1', step: '0.05', value: '1', 'data-testid': 'top-p' });
  const topK = el('input', { type: 'number', value: '-1', 'data-testid': 'top-k' });
  const seed = el('input', { type: 'number', value: '0', 'data-testid': 'seed' });
  const go = el('button', { 'data-testid': 'generate' }, 'Generate');
  const stop = el('button', { 'data-testid': 'cancel', disabled: '' }, 'Cancel');
  const output = el('pre', { class: 'output', 'data-testid': 'output' });
  const stats = el('table', { 'data-testid': 'llm-stats' });
  const progress = el('progress', { max: '1', value: '0', 'data-testid': 'model-progress' });
  const field = (label: string, input: HTMLElement) => el('label', {}, label, input);
  app.append(el('section', {}, el('h2', {}, 'Tensor-parallel LLM'),
    el('div', { class: 'grid' }, field('model', modelSel), field('URL', urlInput), field('local file', fileInput), field('tensor_parallel_size', tpSel),
      field('max_tokens', maxTokens), field('temperature', temperature), field('top_p', topP), field('top_k', topK), field('seed', seed)),
    field('prompt', prompt), el('p', {}, go, ' ', stop), progress, output, stats));

  let catalog: { name: string; url: string; bytes: number; kind: string }[] = [];
  const models = async () => {
    const res = await fetch('/api/models');
    catalog = ((await res.json()) as typeof catalog).map((m) => ({ ...m, url: new URL(m.url, location.href).href }));
    return catalog;
  };
  void models().then((list) => {
    modelSel.replaceChildren(...list.filter((m) => m.kind === 'llm').map((m) => el('option', { value: m.name }, `${m.name} (${fmtBytes(m.bytes)})`)));
  }, () => showAlert('Could not list the server\'s models (/api/models).'));

  const validateModel = async (file: Blob) => {
    try {
      const index = await loadGgufIndex(file);
      return { ok: true as const, config: index.config };
    } catch (e) {
      return { ok: false as const, error: (e as Error).message };
    }
  };
  fileInput.addEventListener('change', async () => {
    const f = fileInput.files?.[0];
    if (!f) return;
    const v = await validateModel(f);
    if (!v.ok) return void showAlert(`${f.name} cannot be used: ${v.error}`, 'error', 'model-error');
    ctx.localFiles.set(f.name, f);
    const value = `local:${f.name}`;
    if (![...modelSel.options].some((o) => o.value === value)) modelSel.append(el('option', { value }, `${f.name} (local, ${fmtBytes(f.size)})`));
    modelSel.value = value;
    showAlert(`${f.name} is ready as model "${value}": each peer reads only its shard's bytes from this page.`, 'info', 'model-info');
  });

  // Which model each peer holds (url + group), so a repeated request skips the load.
  const loadedOn = new Map<string, string>();
  let current: string | null = null;

  const generate = async (req: GenerateRequest): Promise<GenerateResponse> => {
    const tp = req.tensor_parallel_size ?? 1;
    if (!catalog.length) await models();
    const entry = catalog.find((m) => m.name === req.model);
    const localFile = req.model.startsWith('local:') ? ctx.localFiles.get(req.model.slice(6)) : undefined;
    const url = localFile ? `${LOCAL_MODEL_SCHEME}${localFile.name}` : entry?.url ?? (/^https?:\/\//.test(req.model) ? req.model : null);
    if (!url) throw new Error(`unknown model "${req.model}": not on this server (see tabmesh.models()) and not a URL`);
    const group = ctx.roster.pick(tp);
    if (group.length < tp) throw new Error(`tensor_parallel_size=${tp} needs ${tp} free peers; ${group.length} of ${ctx.roster.list().length} connected peers are free (the others are busy)`);
    for (const p of group) ctx.roster.setState(p, 'busy'); // held from the load to the last token
    try {
      const key = `${url}|${group.join(',')}`;
      const t0 = performance.now();
      if (!group.every((p) => loadedOn.get(p) === key)) {
        for (const p of group) loadedOn.delete(p);
        ctx.log(`loading ${req.model} on ${group.length} peer(s)`);
        const loads = new Map<string, [number, number]>();
        const h = ctx.runJob({ kind: 'llm-load', group, model: { name: req.model, url, size: localFile?.size }, maxSeqLen: MAX_SEQ_LEN }, (peer, ev) => {
          if (ev.kind !== 'progress') return;
          loads.set(peer, [ev.loaded, ev.total]);
          let a = 0, b = 0;
          for (const [l, t] of loads.values()) { a += l; b += t; }
          progress.max = Math.max(1, b);
          progress.value = a;
        });
        await h.done;
        for (const p of group) loadedOn.set(p, key);
      }
      const tLoad = performance.now() - t0;
      // Every rank samples on its own from identical logits: they must share one seed, so an unseeded
      // request gets its seed here, once, and the same value goes to every rank.
      const sampling = { ...req.sampling, seed: req.sampling?.seed ?? randomSeed() };
      let text = '';
      output.textContent = '';
      const h = ctx.runJob<GenerateResponse & { stats: { computeMs: number; commMs: number } }>({ kind: 'llm-generate', group, model: { name: req.model, url }, prompt: req.prompt, sampling }, (peer, ev) => {
        if (ev.kind !== 'token' || peer !== group[0]) return;
        text += ev.text;
        output.textContent = text;
        req.onToken?.(ev);
      });
      current = h.jobId;
      try {
        const results = await h.done;
        const r0 = results[0];
        stats.replaceChildren(el('tr', {}, ...['peer', 'rank', 'compute ms', 'all-reduce ms'].map((x) => el('th', {}, x))),
          ...results.map((r, i) => el('tr', {}, el('td', {}, group[i].slice(-12)), el('td', {}, String(i)), el('td', {}, r.stats.computeMs.toFixed(0)), el('td', {}, r.stats.commMs.toFixed(0)))));
        output.textContent = r0.outputs[0]?.text ?? '';
        return { outputs: r0.outputs, usage: r0.usage, timings: { ...r0.timings, load_ms: tLoad, compute_ms: r0.stats.computeMs, allreduce_ms: r0.stats.commMs }, peers: group };
      } finally {
        current = null;
      }
    } finally {
      for (const p of group) if (ctx.roster.has(p)) ctx.roster.setState(p, 'ready');
    }
  };

  go.addEventListener('click', async () => {
    go.setAttribute('disabled', '');
    stop.removeAttribute('disabled');
    try {
      await generate({
        model: urlInput.value.trim() || modelSel.value, prompt: prompt.value, tensor_parallel_size: Number(tpSel.value),
        sampling: { max_tokens: Number(maxTokens.value), temperature: Number(temperature.value), top_p: Number(topP.value), top_k: Number(topK.value), seed: Number(seed.value) },
      });
    } catch (e) {
      showAlert(`Generation failed: ${(e as Error).message}`, 'error', 'generate-error');
    } finally {
      go.removeAttribute('disabled');
      stop.setAttribute('disabled', '');
    }
  });
  stop.addEventListener('click', () => current && ctx.cancel(current));
  return { models, generate, validateModel };
}
