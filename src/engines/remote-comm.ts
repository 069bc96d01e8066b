// The worker's view of the page's collectives. WebRTC lives in the page (workers have no
// RTCPeerConnection); the worker calls the page through a Comlink proxy and tensors cross by
// transfer, not copy. Also times every collective so the UI can split compute from all-reduce.
import { transfer, type Remote } from 'comlink';
import type { Comm } from '../collectives/types';

export interface CommTimer {
  commMs: number;
  calls: number;
}

export function remoteComm(remote: Remote<Comm>, rank: number, size: number, timer: CommTimer): Comm {
  const timed = async <T>(p: Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await p;
    } finally {
      timer.commMs += performance.now() - t0;
      timer.calls++;
    }
  };
  return {
    rank,
    size,
    allReduce: (d, wire) => timed(remote.allReduce(transfer(d, [d.buffer]), wire) as Promise<Float32Array>),
    allGather: (d) => timed(remote.allGather(transfer(d, [d.buffer])) as Promise<Float32Array[]>),
    broadcast: (d, root) => timed(remote.broadcast(d ? transfer(d, [d.buffer]) : null, root) as Promise<Uint8Array>),
  };
}
