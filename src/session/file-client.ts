// A peer's reader of a model file that only the coordinator holds (a file picked on its page):
// byte ranges are requested over the control connection and arrive as base64 chunks of
// FILE_CHUNK_BYTES, so each message stays under the data channel's message-size limit.
import { fromBase64, type ToCoordinator, type ToPeer } from './protocol';

const READ_TIMEOUT_MS = 60_000; // a range that has not arrived in a minute will not: fail the load clearly

interface Pending {
  parts: (Uint8Array | undefined)[];
  got: number;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class FileClient {
  private next = 1;
  private pending = new Map<number, Pending>();

  constructor(private readonly send: (m: ToCoordinator) => void) {}

  read(name: string, start: number, end: number): Promise<Uint8Array> {
    const reqId = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(reqId, `no bytes of ${name} [${start}, ${end}) from the coordinator within ${READ_TIMEOUT_MS} ms`), READ_TIMEOUT_MS);
      this.pending.set(reqId, { parts: [], got: 0, resolve, reject, timer });
      this.send({ type: 'file-read', reqId, name, start, end });
    });
  }

  /** Feeds a file-data / file-error message; returns false for other messages. */
  handle(msg: ToPeer): boolean {
    if (msg.type === 'file-error') {
      this.fail(msg.reqId, msg.error);
      return true;
    }
    if (msg.type !== 'file-data') return false;
    const p = this.pending.get(msg.reqId);
    if (!p || msg.index >= msg.count || p.parts[msg.index]) return true; // late, duplicate or malformed: drop
    p.parts[msg.index] = fromBase64(msg.b64);
    if (++p.got < msg.count) return true;
    const total = p.parts.reduce((n, b) => n + (b?.length ?? 0), 0);
    const out = new Uint8Array(total); // [end - start]
    let o = 0;
    for (const b of p.parts) {
      out.set(b!, o);
      o += b!.length;
    }
    clearTimeout(p.timer);
    this.pending.delete(msg.reqId);
    p.resolve(out);
    return true;
  }

  private fail(reqId: number, error: string): void {
    const p = this.pending.get(reqId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(reqId);
    p.reject(new Error(error));
  }
}
