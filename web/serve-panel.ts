// The coordinator's Serving section and `window.tabmesh.serve / replicas / submit / generateBatch`:
// binds src/scheduler/serve.ts (the pure scheduler) to real jobs ('llm-load' / 'llm-generate' on a
// replica's group, rank 0 streams) and shows replicas, the queue, events and batch jobs.
import type { Job, JobEvent } from '../src/session/protocol';
import type { Roster } from '../src/scheduler/roster';
import { JobError, type JobHandle } from '../src/scheduler/jobs';
import { ServeError, ServeScheduler, type Feature, type ReplicaInfo, type RequestInfo, type ServeCommand, type ServeOptions } from '../src/scheduler/serve';
import { randomSeed, samplingParams, SamplingParamsError } from '../src/model/sampling';
import type { GenerateRequest, GenerateResponse } from './llm-panel';
import { el, showAlert } from './ui';

export interface ServeResponse extends GenerateResponse { request_id: string; replica: string; attempts: number }
export interface BatchItem { prompt: string; sampling?: GenerateRequest['sampling'] }
export interface BatchResult { index: number; prompt: string; text: string; finish_reason: string; usage: GenerateResponse['usage'] | null; replica: string | null; error: string | null }

export interface ServeApi {
  serve(opts: ServeOptions): Promise<{ model: string; replicas: ReplicaInfo[] }>;
  replicas(): (ReplicaInfo & { load: number })[];
  queue(): RequestInfo[];
  serving(): { model: string; ready: number; live: number } | null;
  submit(req: Omit<GenerateRequest, 'tensor_parallel_size'> & { label?: string }): Promise<ServeResponse>;
  cancelRequest(id: string): boolean;
  generateBatch(prompts: (string | BatchItem)[], options?: { sampling?: GenerateRequest['sampling']; onProgress?: (done: number, total: number) => void }): Promise<BatchResult[]>;
}

interface Ctx {
  roster: Roster;
  runJob: <R>(job: Job & { group: string[] }, onEvent?: (peer: string, ev: JobEvent) => void) => JobHandle<R>;
  cancel: (jobId: string) => void;
  log: (line: string) => void;
  models: () => Promise<{ name: string; url: string; kind: string }[]>;
}

interface Payload { prompt: string; sampling: Record<string, unknown>; messages?: { role: string; content: string }[] }
type PeerResult = GenerateResponse & { stats: { computeMs: number; commMs: number } };

const MAX_SEQ_LEN = 1024; // as the LLM panel: KV positions per peer, capped by each peer's limits
// Errors that would repeat on any replica (bad sampling, prompt too long): fail the request. Any
// other job error is a fault of the replica (a peer left, a collective broke) and re-queues it.
const REQUEST_ERROR = /generate: |SamplingParams|must be|no room|chat template/;

export function mountServePanel(app: HTMLElement, ctx: Ctx): ServeApi {
  // ---- page ----
  const field = (label: string, input: HTMLElement) => el('label', {}, label, input);
  const tp = el('input', { type: 'number', min: '1', value: '2', 'data-testid': 'serve-tp' });
  const maxOngoing = el('input', { type: 'number', min: '1', value: '5', 'data-testid': 'serve-max-ongoing' });
  const maxBatch = el('input', { type: 'number', min: '1', value: '4', 'data-testid': 'serve-max-batch' });
  const needF16 = el('input', { type: 'checkbox', 'data-testid': 'serve-f16' });
  const start = el('button', { 'data-testid': 'serve-start' }, 'Start serving');
  const status = el('span', { class: 'muted', 'data-testid': 'serve-status' }, 'not serving');
  const repBody = el('tbody', { 'data-testid': 'serve-replicas' });
  const queueBody = el('tbody', { 'data-testid': 'serve-queue' });
  const events = el('pre', { class: 'output', 'data-testid': 'serve-events' });
  const batchText = el('textarea', { 'data-testid': 'batch-input', placeholder: 'one prompt per line, or JSONL: {"prompt": "…", "seed": 1}' });
  const batchFile = el('input', { type: 'file', accept: '.jsonl,.txt', 'data-testid': 'batch-file' });
  const batchMax = el('input', { type: 'number', min: '1', value: '32', 'data-testid': 'batch-max-tokens' });
  const batchTemp = el('input', { type: 'number', min: '0', step: '0.1', value: '0.8', 'data-testid': 'batch-temperature' });
  const batchGo = el('button', { 'data-testid': 'batch-run' }, 'Run batch');
  const batchProgress = el('progress', { max: '1', value: '0', 'data-testid': 'batch-progress' });
  const batchResults = el('tbody', { 'data-testid': 'batch-results' });
  const download = el('a', { 'data-testid': 'batch-download', hidden: '' }, 'download results (JSONL)');
  const th = (...h: string[]) => el('thead', {}, el('tr', {}, ...h.map((x) => el('th', {}, x))));
  app.append(el('section', {}, el('h2', {}, 'Serving (replicas)'),
    el('p', { class: 'muted' }, 'Continuous batching: a replica decodes up to max_batch_size sequences in one batched forward per step and refills a finished one\'s slot at the next step (n completions take n slots).'),
    el('div', { class: 'grid' }, field('tensor_parallel_size', tp), field('max_ongoing_requests', maxOngoing), field('max_batch_size', maxBatch), field('require shader-f16', needF16)),
    el('p', {}, start, ' ', status),
    el('table', {}, th('replica', 'peers', 'state', 'ongoing', 'batch', 'done', 'GFLOPS'), repBody),
    el('table', {}, th('request', 'label', 'state', 'position', 'replica', 'attempts', 'tokens', 'error'), queueBody),
    el('h3', {}, 'Events'), events,
    el('h3', {}, 'Batch job'), batchText, el('div', { class: 'grid' }, field('JSONL file', batchFile), field('max_tokens', batchMax), field('temperature', batchTemp)),
    el('p', {}, batchGo, ' ', download), batchProgress, el('table', {}, th('#', 'prompt', 'output', 'finish', 'replica'), batchResults)));

  // ---- scheduler binding ----
  let sched: ServeScheduler<Payload, ServeResponse> | null = null;
  let model: { name: string; url: string } | null = null;
  let ticker: ReturnType<typeof setInterval> | null = null;
  const jobOf = new Map<string, { replica: string; jobId: string }>(); // request -> its running job (cancel/abandon)
  const known = new Set<string>();

  const peerOf = (id: string) => {
    const e = ctx.roster.get(id)!;
    const features: Feature[] = [];
    if (e.features.shaderF16) features.push('shader-f16');
    if (e.features.subgroups) features.push('subgroups');
    return { id, gflops: e.gflops, memoryBytes: e.limits.maxStorageBufferBindingSize, features };
  };
  // Peers join and leave through the roster; the scheduler learns of both from its change events.
  ctx.roster.onChange(() => {
    const ids = new Set(ctx.roster.ids());
    const joined = [...ids].filter((id) => !known.has(id));
    for (const id of [...known]) if (!ids.has(id)) { known.delete(id); sched?.peerLeft(id); }
    for (const id of joined) known.add(id);
    if (joined.length) sched?.peersJoined(joined.map(peerOf));
  });

  const onCommand = (c: ServeCommand<Payload>): void => {
    const s = sched!;
    const m = model!;
    switch (c.type) {
      case 'load': {
        const h = ctx.runJob({ kind: 'llm-load', group: c.peers, model: m, maxSeqLen: MAX_SEQ_LEN, maxBatchSize: s.config.max_batch_size, batchWaitMs: s.config.batch_wait_timeout_ms, reduceWire: s.config.allreduce_wire });
        h.done.then(() => s.loaded(c.replica), (e: Error) => s.loadFailed(c.replica, e.message));
        return;
      }
      case 'run': {
        for (const p of c.peers) ctx.roster.setState(p, 'busy');
        // batched: the peers' continuous-batching loop runs it beside the replica's other requests.
        const h = ctx.runJob<PeerResult>({ kind: 'llm-generate', group: c.peers, model: m, prompt: c.payload.prompt, sampling: c.payload.sampling, messages: c.payload.messages, batched: true }, (peer, ev) => {
          if (ev.kind === 'token' && peer === c.peers[0]) s.token(c.request, c.attempt, ev);
        });
        jobOf.set(c.request, { replica: c.replica, jobId: h.jobId });
        h.done.then((results) => {
          const r0 = results[0];
          s.finished(c.request, c.attempt, { outputs: r0.outputs, usage: r0.usage, timings: { ...r0.timings, compute_ms: r0.stats.computeMs, allreduce_ms: r0.stats.commMs }, peers: c.peers, request_id: c.request, replica: c.replica, attempts: c.attempt });
        }, (e: Error) => {
          const fault = !(REQUEST_ERROR.test(e.message) && e instanceof JobError && ctx.roster.has(e.peer ?? ''));
          s.runFailed(c.request, c.attempt, e.message, fault);
        }).finally(() => {
          if (jobOf.get(c.request)?.jobId === h.jobId) jobOf.delete(c.request);
          // Other requests of the batch may still run on these peers.
          if ([...jobOf.values()].some((j) => j.replica === c.replica)) return;
          for (const p of c.peers) if (ctx.roster.has(p)) ctx.roster.setState(p, 'ready');
        });
        return;
      }
      case 'cancel': {
        const j = jobOf.get(c.request);
        if (j) ctx.cancel(j.jobId);
        return;
      }
      case 'abandon': {
        for (const j of jobOf.values()) if (j.replica === c.replica) ctx.cancel(j.jobId);
        return;
      }
    }
  };

  // ---- rendering (throttled: tokens change the state many times a second) ----
  let dirty = false;
  const render = () => {
    dirty = false;
    if (!sched) return;
    const reps = sched.replicas().filter((r) => r.state !== 'dead').concat(sched.replicas().filter((r) => r.state === 'dead').slice(-5));
    repBody.replaceChildren(...reps.map((r) => el('tr', { 'data-replica': r.id, 'data-state': r.state },
      el('td', {}, r.id), el('td', {}, r.peers.map((p) => p.slice(-12)).join(', ')), el('td', {}, r.state + (r.reason ? ` (${r.reason})` : '')),
      el('td', {}, String(r.ongoing)), el('td', {}, `${r.batch.length} (${r.slots} slots, peak ${r.peakBatch})`), el('td', {}, String(r.completed)), el('td', {}, r.gflops.toFixed(1)))));
    const qs = sched.requests().slice(-50);
    queueBody.replaceChildren(...qs.map((q) => el('tr', { 'data-request': q.id, 'data-state': q.state },
      el('td', {}, q.id), el('td', {}, q.label), el('td', {}, q.state), el('td', {}, q.position === null ? '' : String(q.position)),
      el('td', {}, q.replica ?? ''), el('td', {}, String(q.attempts)), el('td', {}, String(q.tokens)), el('td', {}, q.error ?? ''))));
    const ready = sched.replicas().filter((r) => r.state === 'ready').length;
    status.textContent = `serving ${sched.config.model}: ${ready} replica(s) ready, ${sched.requests().filter((q) => q.state === 'queued').length} queued`;
  };
  const changed = () => {
    if (dirty) return;
    dirty = true;
    setTimeout(render, 150);
  };

  const serving = () => {
    if (!sched) return null;
    const reps = sched.replicas();
    return { model: sched.config.model, ready: reps.filter((r) => r.state === 'ready').length, live: reps.filter((r) => r.state !== 'dead').length };
  };

  const serve = async (opts: ServeOptions): Promise<{ model: string; replicas: ReplicaInfo[] }> => {
    const next = new ServeScheduler<Payload, ServeResponse>(opts, onCommand); // validates: throws 400s
    const entry = (await ctx.models()).find((e) => e.name === opts.model && e.kind === 'llm');
    const url = entry?.url ?? (/^https?:\/\//.test(opts.model) ? opts.model : null);
    if (!url) throw new ServeError(`unknown model "${opts.model}": not on this server (see tabmesh.models()) and not a URL`, 404);
    if (sched) {
      sched.stop(`serving restarted with ${opts.model}`);
      if (ticker) clearInterval(ticker);
    }
    sched = next;
    model = { name: opts.model, url };
    jobOf.clear();
    next.onChange(changed);
    next.onEvent((e) => {
      ctx.log(`serve: ${e.message}`);
      events.textContent = `${new Date().toLocaleTimeString()} ${e.message}\n${events.textContent ?? ''}`.slice(0, 6000);
    });
    // Ticks drive health checks, queue timeouts and re-forming after a cooldown: at least once a
    // second so those stay timely even with Ray's 10 s default health_check_period_ms.
    ticker = setInterval(() => { next.tick(); next.prune(200); }, Math.min(1000, next.config.health_check_period_ms));
    known.clear();
    for (const id of ctx.roster.ids()) known.add(id);
    next.peersJoined(ctx.roster.ids().map(peerOf));
    ctx.log(`serving ${opts.model}: tp=${next.config.tensor_parallel_size}, ${next.replicas().length} replica(s) forming`);
    // Resolve once min_replicas are ready; fail (and say why) after queue_timeout_ms.
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (next.replicas().filter((r) => r.state === 'ready').length >= next.config.min_replicas) { off(); clearTimeout(timer); resolve(); }
      };
      const off = next.onChange(check);
      const timer = setTimeout(() => { off(); reject(new ServeError(`serve: ${next.config.min_replicas} replica(s) not ready after ${next.config.queue_timeout_ms} ms: ${next.formationBlocker()}`, 503)); }, next.config.queue_timeout_ms);
      check();
    });
    return { model: opts.model, replicas: next.replicas() };
  };

  const submit = async (req: Omit<GenerateRequest, 'tensor_parallel_size'> & { label?: string }): Promise<ServeResponse> => {
    const s = sched;
    if (!s) throw new ServeError('not serving: call tabmesh.serve({ model, tensor_parallel_size }) first', 503);
    if (req.model !== s.config.model) throw new ServeError(`model "${req.model}" is not being served (serving "${s.config.model}")`, 404);
    if (typeof req.prompt !== 'string') throw new ServeError('prompt must be a string', 400);
    // Every rank and every re-run must sample alike: the seed is fixed here, once per request.
    const sampling = { ...req.sampling, seed: req.sampling?.seed ?? randomSeed() };
    try {
      samplingParams(sampling);
    } catch (e) {
      if (e instanceof SamplingParamsError) throw new ServeError(e.message, 400);
      throw e;
    }
    // n completions decode side by side: n KV-cache slots of the replica's batch.
    return s.submit({ prompt: req.prompt, sampling, messages: req.messages }, { onToken: req.onToken, label: req.label ?? (req.messages ? 'chat' : req.prompt).slice(0, 24), slots: sampling.n ?? 1 }).done;
  };

  const generateBatch: ServeApi['generateBatch'] = async (prompts, options = {}) => {
    let done = 0;
    const items = prompts.map((p) => (typeof p === 'string' ? { prompt: p } : p));
    const results = await Promise.allSettled(items.map((it, i) => submit({ model: sched?.config.model ?? '', prompt: it.prompt, sampling: { ...options.sampling, ...it.sampling }, label: `batch #${i}` })
      .finally(() => options.onProgress?.(++done, items.length))));
    return results.map((r, index): BatchResult => r.status === 'fulfilled'
      ? { index, prompt: items[index].prompt, text: r.value.outputs[0]?.text ?? '', finish_reason: r.value.outputs[0]?.finish_reason ?? '', usage: r.value.usage, replica: r.value.replica, error: null }
      : { index, prompt: items[index].prompt, text: '', finish_reason: 'error', usage: null, replica: null, error: (r.reason as Error).message });
  };

  // ---- buttons ----
  start.addEventListener('click', async () => {
    const name = (document.querySelector('[data-testid="model"]') as HTMLSelectElement | null)?.value ?? '';
    try {
      await serve({ model: name, tensor_parallel_size: Number(tp.value), max_ongoing_requests: Number(maxOngoing.value), max_batch_size: Number(maxBatch.value), ray_actor_options: needF16.checked ? { required_features: ['shader-f16'] } : {} });
    } catch (e) {
      showAlert(`Serving failed: ${(e as Error).message}`, 'error', 'serve-error');
    }
  });
  batchFile.addEventListener('change', async () => {
    const f = batchFile.files?.[0];
    if (f) batchText.value = await f.text();
  });
  batchGo.addEventListener('click', async () => {
    let items: BatchItem[];
    try {
      items = parseBatch(batchText.value);
    } catch (e) {
      return void showAlert((e as Error).message, 'error', 'batch-error');
    }
    batchGo.setAttribute('disabled', '');
    batchProgress.max = items.length;
    batchProgress.value = 0;
    try {
      const res = await generateBatch(items, { sampling: { max_tokens: Number(batchMax.value), temperature: Number(batchTemp.value) }, onProgress: (d) => (batchProgress.value = d) });
      batchResults.replaceChildren(...res.map((r) => el('tr', {}, el('td', {}, String(r.index)), el('td', {}, r.prompt), el('td', {}, r.error ?? r.text), el('td', {}, r.finish_reason), el('td', {}, r.replica ?? ''))));
      download.href = URL.createObjectURL(new Blob([res.map((r) => JSON.stringify(r)).join('\n') + '\n'], { type: 'application/jsonl' }));
      download.setAttribute('download', 'tabmesh-batch.jsonl');
      download.removeAttribute('hidden');
    } finally {
      batchGo.removeAttribute('disabled');
    }
  });

  return {
    serve,
    replicas: () => (sched?.replicas() ?? []).filter((r) => r.state !== 'dead').map((r) => ({ ...r, load: r.ongoing / sched!.config.max_ongoing_requests })),
    queue: () => sched?.requests() ?? [],
    serving,
    submit,
    cancelRequest: (id) => sched?.cancel(id) ?? false,
    generateBatch,
  };
}

/** Batch input: JSONL objects ({"prompt": …, plus sampling fields}) or one plain prompt per line. */
export function parseBatch(text: string): BatchItem[] {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.map((line, i) => {
    if (!line.startsWith('{')) return { prompt: line };
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`batch line ${i + 1} is not valid JSON`);
    }
    if (typeof o.prompt !== 'string') throw new Error(`batch line ${i + 1} has no "prompt" string`);
    const { prompt, ...sampling } = o;
    return { prompt: prompt as string, sampling: sampling as BatchItem['sampling'] };
  });
}
