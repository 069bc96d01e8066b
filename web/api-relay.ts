// The coordinator page's end of the OpenAI-compatible HTTP API: the app server (server/openai.mjs)
// relays each HTTP request over the /tabmesh-api WebSocket; this page runs it through the serving
// scheduler (window.tabmesh.submit) and streams tokens back. Reconnects when the server restarts.
import type { ServeApi } from './serve-panel';

/** What the server sends (already shape-checked there; ranges are checked by submit()). */
interface ApiRequest {
  type: 'request';
  id: string;
  model: string;
  prompts: string[]; // completions may carry several prompts; chat carries messages instead
  messages?: { role: string; content: string }[];
  sampling: Record<string, unknown> & { n?: number };
}

type ToServer =
  | { type: 'state'; model: string | null; ready: number; live: number }
  | { type: 'token'; id: string; choice: number; text: string }
  | { type: 'result'; id: string; choices: { index: number; text: string; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } }
  | { type: 'error'; id: string; status: number; message: string };

export function connectApiRelay(api: ServeApi, log: (line: string) => void): void {
  let ws: WebSocket | null = null;
  const send = (m: ToServer) => void (ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify(m)));
  const sendState = () => {
    const s = api.serving();
    send({ type: 'state', model: s?.model ?? null, ready: s?.ready ?? 0, live: s?.live ?? 0 });
  };
  setInterval(sendState, 1000);

  const run = async (r: ApiRequest) => {
    const n = Number(r.sampling.n ?? 1);
    // Chat: the messages travel to the peers, which render them with the GGUF's own chat template
    // (src/model/chat-template.ts); the coordinator never needs the model's header.
    const prompts = r.messages ? [''] : r.prompts;
    try {
      // One scheduler request per prompt; choice index = prompt * n + completion (OpenAI's order).
      const results = await Promise.all(prompts.map((prompt, p) => api.submit({
        model: r.model, prompt, messages: r.messages, sampling: r.sampling, label: `api ${r.id}`,
        onToken: (ev) => send({ type: 'token', id: r.id, choice: p * n + ev.index, text: ev.text }),
      })));
      const choices = results.flatMap((res, p) => res.outputs.map((o, i) => ({ index: p * n + i, text: o.text, finish_reason: o.finish_reason === 'abort' ? 'stop' : o.finish_reason })));
      const usage = results.reduce((u, res) => ({ prompt_tokens: u.prompt_tokens + res.usage.prompt_tokens, completion_tokens: u.completion_tokens + res.usage.completion_tokens }), { prompt_tokens: 0, completion_tokens: 0 });
      send({ type: 'result', id: r.id, choices, usage });
    } catch (e) {
      send({ type: 'error', id: r.id, status: (e as { status?: number }).status ?? 500, message: (e as Error).message });
    }
  };

  const open = () => {
    const url = new URL('/tabmesh-api', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(url);
    ws.onopen = () => { log('HTTP API relay connected (/v1 on this server)'); sendState(); };
    ws.onmessage = (ev) => {
      const m = JSON.parse(String(ev.data)) as ApiRequest | { type: 'cancel'; id: string };
      if (m.type === 'request') void run(m);
      else if (m.type === 'cancel') for (const q of api.queue().filter((q) => q.label === `api ${m.id}`)) api.cancelRequest(q.id);
    };
    ws.onclose = () => { ws = null; setTimeout(open, 2000); };
  };
  open();
}
