// OpenAI-compatible HTTP API on the app server: GET /v1/models, POST /v1/completions and
// POST /v1/chat/completions (with SSE streaming). The swarm lives in the coordinator page, so each
// request is relayed over a WebSocket (/tabmesh-api) to that page, which runs it through its
// serving scheduler and streams tokens back. Only /tabmesh-api upgrades are routed here (as
// signaling.mjs does for /peerjs): `ws` would answer 400 to every other upgrade path.
import express from 'express';
import { WebSocketServer } from 'ws';
import crypto from 'node:crypto';

export const API_WS_PATH = '/tabmesh-api';

/** OpenAI's error body. */
function fail(res, status, message, param = null) {
  const type = status === 400 ? 'invalid_request_error' : status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error' : 'server_error';
  res.status(status).json({ error: { message, type, param, code: status === 404 ? 'model_not_found' : null } });
}

/** Sampling fields of a body, type-checked (ranges are checked by the page, vLLM's rules). */
function sampling(body, chat) {
  const out = {};
  const num = ['temperature', 'top_p', 'top_k', 'min_p', 'n', 'seed', 'max_tokens'];
  for (const k of num) {
    const v = body[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw Object.assign(new Error(`${k} must be a number`), { param: k });
    out[k] = v;
  }
  if (chat && out.max_tokens === undefined && typeof body.max_completion_tokens === 'number') out.max_tokens = body.max_completion_tokens;
  // OpenAI's defaults: 16 tokens for completions; chat has none, so a bounded one here.
  if (out.max_tokens === undefined) out.max_tokens = chat ? 256 : 16;
  if (body.stop !== undefined && body.stop !== null) {
    const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string')) throw Object.assign(new Error('stop must be a string or an array of strings'), { param: 'stop' });
    out.stop = stop;
  }
  return out;
}

export function createOpenAiApi({ apiKey = process.env.TABMESH_API_KEY } = {}) {
  const wss = new WebSocketServer({ noServer: true });
  let coordinator = null; // the latest coordinator page to connect; a reload replaces it
  let state = { model: null, ready: 0, live: 0 };
  const pending = new Map(); // relay id -> { onToken, onResult, onError }

  wss.on('connection', (ws) => {
    if (coordinator && coordinator !== ws) coordinator.close(1000, 'replaced by a newer coordinator page');
    coordinator = ws;
    ws.on('message', (raw) => {
      let m;
      try { m = JSON.parse(String(raw)); } catch { return; }
      if (m.type === 'state') state = { model: m.model, ready: m.ready, live: m.live };
      const p = pending.get(m.id);
      if (!p) return;
      if (m.type === 'token') p.onToken(m.choice, m.text);
      else if (m.type === 'result') { pending.delete(m.id); p.onResult(m); }
      else if (m.type === 'error') { pending.delete(m.id); p.onError(m.status, m.message); }
    });
    ws.on('close', () => {
      if (coordinator !== ws) return;
      coordinator = null;
      state = { model: null, ready: 0, live: 0 };
      for (const [id, p] of pending) { pending.delete(id); p.onError(503, 'the coordinator page disconnected'); }
    });
  });

  const router = express.Router();
  router.use('/v1', (req, res, next) => {
    if (apiKey && req.get('authorization') !== `Bearer ${apiKey}`) return fail(res, 401, 'invalid or missing API key (Authorization: Bearer …)');
    next();
  });
  router.use('/v1', express.json({ limit: '4mb' }));
  const available = (res) => {
    if (!coordinator) return fail(res, 503, 'no coordinator page is connected: open the tabmesh page on this server'), false;
    if (!state.model) return fail(res, 503, 'the coordinator is not serving a model: call tabmesh.serve({ model, tensor_parallel_size }) or press "Start serving"'), false;
    return true;
  };

  router.get('/v1/models', (_req, res) => {
    if (!available(res)) return;
    res.json({ object: 'list', data: [{ id: state.model, object: 'model', created: 0, owned_by: 'tabmesh', replicas: state.ready }] });
  });

  const handle = (chat) => (req, res) => {
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return fail(res, 400, 'the body must be a JSON object');
    if (typeof body.model !== 'string' || !body.model) return fail(res, 400, 'model must be a non-empty string', 'model');
    let prompts, messages, samp;
    if (chat) {
      const ok = Array.isArray(body.messages) && body.messages.length > 0 && body.messages.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string');
      if (!ok) return fail(res, 400, 'messages must be a non-empty array of { role, content: string }', 'messages');
      messages = body.messages.map((m) => ({ role: m.role, content: m.content }));
      prompts = [];
    } else {
      prompts = typeof body.prompt === 'string' ? [body.prompt] : body.prompt;
      if (!Array.isArray(prompts) || !prompts.length || prompts.some((p) => typeof p !== 'string')) return fail(res, 400, 'prompt must be a string or a non-empty array of strings (token-id prompts are not supported)', 'prompt');
    }
    try { samp = sampling(body, chat); } catch (e) { return fail(res, 400, e.message, e.param); }
    if (!available(res)) return;
    if (body.model !== state.model) return fail(res, 404, `The model '${body.model}' does not exist (serving '${state.model}')`, 'model');

    const id = `${chat ? 'chatcmpl' : 'cmpl'}-${crypto.randomBytes(12).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const object = chat ? 'chat.completion' : 'text_completion';
    const stream = body.stream === true;
    const includeUsage = stream && body.stream_options?.include_usage === true;
    const usageOf = (u) => ({ prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.prompt_tokens + u.completion_tokens });
    const chunk = (choices) => ({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model: state.model, choices });
    const sse = (o) => res.write(`data: ${JSON.stringify(o)}\n\n`);
    let finished = false;
    const started = new Set();

    pending.set(id, {
      onToken(choice, text) {
        if (!stream || !text) return;
        if (chat && !started.has(choice)) { started.add(choice); sse(chunk([{ index: choice, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }])); }
        sse(chunk([chat ? { index: choice, delta: { content: text }, logprobs: null, finish_reason: null } : { index: choice, text, logprobs: null, finish_reason: null }]));
      },
      onResult(m) {
        finished = true;
        if (stream) {
          for (const c of m.choices) sse(chunk([chat ? { index: c.index, delta: {}, logprobs: null, finish_reason: c.finish_reason } : { index: c.index, text: '', logprobs: null, finish_reason: c.finish_reason }]));
          if (includeUsage) sse({ ...chunk([]), usage: usageOf(m.usage) });
          res.write('data: [DONE]\n\n');
          return void res.end();
        }
        const choices = m.choices.map((c) => chat
          ? { index: c.index, message: { role: 'assistant', content: c.text }, logprobs: null, finish_reason: c.finish_reason }
          : { index: c.index, text: c.text, logprobs: null, finish_reason: c.finish_reason });
        res.json({ id, object, created, model: state.model, choices, usage: usageOf(m.usage) });
      },
      onError(status, message) {
        finished = true;
        if (!res.headersSent) return fail(res, status >= 400 && status < 600 ? status : 500, message);
        sse({ error: { message, type: 'server_error', code: status } }); // mid-stream: headers are gone
        res.end();
      },
    });
    if (stream) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      res.flushHeaders();
    }
    // A client that goes away cancels its request on the swarm.
    res.on('close', () => {
      if (finished) return;
      pending.delete(id);
      coordinator?.send(JSON.stringify({ type: 'cancel', id }));
    });
    coordinator.send(JSON.stringify({ type: 'request', id, model: body.model, prompts, messages, sampling: samp }));
  };
  router.post('/v1/completions', handle(false));
  router.post('/v1/chat/completions', handle(true));
  router.use('/v1', (req, res) => fail(res, 404, `unknown endpoint ${req.method} ${req.path}`));
  // Malformed JSON (express.json) and other errors under /v1 answer in OpenAI's shape, not HTML.
  router.use('/v1', (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    fail(res, err.status === 400 || err.type === 'entity.parse.failed' ? 400 : 500, `bad request body: ${err.message}`);
  });

  function attach(server) {
    server.on('upgrade', (req, socket, head) => {
      if ((req.url ?? '').split('?')[0] !== API_WS_PATH) return; // not ours: /peerjs or Vite's HMR
      // Only a page of this server may become the coordinator (browsers always send Origin).
      const origin = req.headers.origin;
      if (!origin || new URL(origin).host !== req.headers.host) return void socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
  }
  return { router, attach };
}
