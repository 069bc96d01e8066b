// The coordinator's LLM panel and `window.tabmesh.generate`: choose a model and
// tensor_parallel_size, type a prompt, set sampling, stream the output, see per-peer stats.
import { LLM_ENGINES, LOCAL_MODEL_SCHEME, type Job, type JobEvent, type LlmEngineChoice } from '../src/session/protocol';
import type { Roster } from '../src/scheduler/roster';
import type { JobHandle } from '../src/scheduler/jobs';
import { LlmFlow, type GenerateRequest, type GenerateResponse, type PeerLlmStats } from '../src/scheduler/llm-flow';
import { loadGgufIndex } from '../src/model/gguf';
import type { ReduceWire } from '../src/collectives/types';
import { el, fmtBytes, showAlert } from './ui';

export type { GenerateRequest, GenerateResponse };

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
  localFiles: Map<string, Blob>; // picked on this page; peers read them through the coordinator
}

export function mountLlmPanel(app: HTMLElement, ctx: Ctx): LlmApi {
  const modelSel = el('select', { 'data-testid': 'model' });
  const urlInput = el('input', { placeholder: 'or a model URL (https://…/model.gguf)', 'data-testid': 'model-url', size: '40' });
  const fileInput = el('input', { type: 'file', accept: '.gguf', 'data-testid': 'model-file' });
  const tpSel = el('input', { type: 'number', min: '1', value: '1', 'data-testid': 'tp-size' });
  // auto: each peer's own choice (WGSL on a hardware GPU, ONNX Runtime wasm on a software adapter or none).
  const engineSel = el('select', { 'data-testid': 'engine' }, ...LLM_ENGINES.map((e) => el('option', { value: e }, e)));
  const weightsSel = el('select', { 'data-testid': 'shard-weights' }, el('option', { value: 'even' }, 'even'), el('option', { value: 'speed' }, 'by measured speed'));
  // prefill's all-reduces: exact f32, or int8 blocks (a quarter of the bytes) for peers on slow links; decode is always f32
  const wireSel = el('select', { 'data-testid': 'allreduce-wire' }, el('option', { value: 'f32' }, 'f32 (exact)'), el('option', { value: 'i8' }, 'i8 prefill (slow links)'));
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
    el('div', { class: 'grid' }, field('model', modelSel), field('URL', urlInput), field('local file', fileInput), field('tensor_parallel_size', tpSel), field('engine', engineSel), field('shard split', weightsSel), field('all-reduce', wireSel),
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

  // Per peer: its shard, tokens/s and the split between compute, all-reduce and idle, live while
  // a generate runs (the peers' stats events) and kept after it.
  const showStats = (rows: PeerLlmStats[]): void => {
    stats.replaceChildren(el('tr', {}, ...['peer', 'rank', 'engine', 'share', 'shard', 'tokens', 'tokens/s', 'compute ms', 'all-reduce ms', 'prefill wire', 'idle ms'].map((x) => el('th', {}, x))),
      ...rows.map((r) => el('tr', { 'data-peer': r.peer }, el('td', {}, r.peer.slice(-12)), el('td', {}, `${r.rank}/${r.tp}`),
        el('td', { 'data-testid': 'peer-engine' }, r.engine), el('td', { 'data-testid': 'peer-share' }, r.share), el('td', {}, r.shard), el('td', {}, String(r.tokens)),
        el('td', { 'data-testid': 'peer-tok-s' }, r.tok_s.toFixed(1)), el('td', {}, r.compute_ms.toFixed(0)), el('td', {}, r.allreduce_ms.toFixed(0)), el('td', {}, r.allreduce_wire), el('td', {}, r.idle_ms.toFixed(0)))));
  };
  const flow = new LlmFlow({ roster: ctx.roster, runJob: ctx.runJob, log: ctx.log });

  const generate = async (req: GenerateRequest): Promise<GenerateResponse> => {
    if (!catalog.length) await models();
    const entry = catalog.find((m) => m.name === req.model);
    const localName = req.model.startsWith('local:') ? req.model.slice(6) : null;
    const localFile = localName !== null ? ctx.localFiles.get(localName) : undefined;
    const url = localFile ? `${LOCAL_MODEL_SCHEME}${localName}` : entry?.url ?? (/^https?:\/\//.test(req.model) ? req.model : null);
    if (!url) throw new Error(`unknown model "${req.model}": not on this server (see tabmesh.models()) and not a URL`);
    return flow.generate(req, { name: req.model, url, size: localFile?.size }, {
      onLoadProgress: (loaded, total) => {
        progress.max = Math.max(1, total);
        progress.value = loaded;
      },
      onText: (text) => (output.textContent = text),
      onPeerStats: showStats,
    });
  };

  go.addEventListener('click', async () => {
    go.setAttribute('disabled', '');
    stop.removeAttribute('disabled');
    try {
      await generate({
        model: urlInput.value.trim() || modelSel.value, prompt: prompt.value, tensor_parallel_size: Number(tpSel.value),
        engine: engineSel.value as LlmEngineChoice, shard_weights: weightsSel.value as 'even' | 'speed', allreduce_wire: wireSel.value as ReduceWire,
        sampling: { max_tokens: Number(maxTokens.value), temperature: Number(temperature.value), top_p: Number(topP.value), top_k: Number(topK.value), seed: Number(seed.value) },
      });
    } catch (e) {
      showAlert(`Generation failed: ${(e as Error).message}`, 'error', 'generate-error');
    } finally {
      go.removeAttribute('disabled');
      stop.setAttribute('disabled', '');
    }
  });
  stop.addEventListener('click', () => flow.current && ctx.cancel(flow.current));
  return { models, generate, validateModel };
}
