// A coordinator in Node (no page): the same session core as the coordinator page
// (src/session/coordinator-core.ts) and the same generate flow (src/scheduler/llm-flow.ts), over
// PeerJS on node-datachannel, so headless peers join it by the usual link. Used by
// bench/multi-gpu.ts to drive multi-GPU runs on a machine without a browser.
import { installNodeGlobals } from './headless.node';
import { joinLink, newSessionId } from './ids';
import type { CoordinatorCore } from './coordinator-core';
import type { LlmFlow } from '../scheduler/llm-flow';

export interface NodeCoordinator {
  core: CoordinatorCore;
  llm: LlmFlow;
  joinLink: string;
  /** Resolves once `n` peers are ready (not busy), or rejects after `timeoutMs`. */
  waitForPeers(n: number, timeoutMs: number): Promise<string[]>;
  close(): void;
}

/** `origin`: the signaling server's app origin, e.g. http://127.0.0.1:5390 (PeerJS at /peerjs). */
export async function startNodeCoordinator(origin: string, log: (line: string) => void, opts: { heartbeatTimeoutMs?: number } = {}): Promise<NodeCoordinator> {
  installNodeGlobals(`tabmesh-coordinator (Node ${process.version}; ${process.platform} ${process.arch})`);
  // PeerJS is evaluated only now, after the globals (it probes RTCPeerConnection at module load).
  const [{ startCoordinatorCore }, { LlmFlow }] = await Promise.all([import('./coordinator-core'), import('../scheduler/llm-flow')]);
  const url = new URL(origin);
  const secure = url.protocol === 'https:';
  const sessionId = newSessionId();
  const core = startCoordinatorCore({
    sessionId,
    signaling: { host: url.hostname, port: Number(url.port || (secure ? 443 : 80)), path: '/peerjs', secure, config: { iceServers: [] }, debug: 0 },
    heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
    events: {
      log,
      signaling: (s) => log(`signaling ${s}`),
      peerFatal: (peer, error) => log(`peer ${peer.slice(-12)} fatal: ${error}`),
    },
  });
  await core.ready;
  const llm = new LlmFlow({ roster: core.roster, runJob: core.runJob, log });
  return {
    core,
    llm,
    joinLink: joinLink(url.origin, sessionId),
    waitForPeers(n, timeoutMs) {
      return new Promise((resolve, reject) => {
        const ready = () => core.roster.list().filter((e) => e.state === 'ready').map((e) => e.id);
        const check = () => {
          if (ready().length < n) return false;
          off();
          clearTimeout(timer);
          resolve(ready());
          return true;
        };
        const off = core.roster.onChange(() => void check());
        const timer = setTimeout(() => {
          off();
          reject(new Error(`only ${ready().length} of ${n} peers joined within ${timeoutMs} ms`));
        }, timeoutMs);
        check();
      });
    },
    close: () => core.close(),
  };
}
