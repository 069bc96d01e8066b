// The coordinator's view of its peers: who is ready, their reports, RTT, liveness.
// Kept free of DOM and PeerJS so the scheduler logic stays testable.
import { HEARTBEAT_TIMEOUT_MS, type PeerReport, type RosterEntry } from '../session/protocol';

export class Roster {
  private entries = new Map<string, RosterEntry>();
  private listeners = new Set<() => void>();

  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private changed(): void {
    for (const cb of this.listeners) cb();
  }

  add(report: PeerReport, now: number): void {
    this.entries.set(report.id, { ...report, rttMs: null, state: 'ready', lastSeen: now });
    this.changed();
  }

  remove(id: string): boolean {
    const had = this.entries.delete(id);
    if (had) this.changed();
    return had;
  }

  seen(id: string, now: number, rttMs?: number): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.lastSeen = now;
    if (rttMs !== undefined) e.rttMs = rttMs;
    this.changed();
  }

  setState(id: string, state: RosterEntry['state']): void {
    const e = this.entries.get(id);
    if (e && e.state !== state) {
      e.state = state;
      this.changed();
    }
  }

  /** Peers not heard from within the heartbeat timeout; the caller drops them. */
  stale(now: number, timeoutMs = HEARTBEAT_TIMEOUT_MS): string[] {
    return [...this.entries.values()].filter((e) => now - e.lastSeen > timeoutMs).map((e) => e.id);
  }

  get(id: string): RosterEntry | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  list(): RosterEntry[] {
    return [...this.entries.values()];
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * The k fastest free peers (fewer if not enough are free). Busy peers are never picked: a peer
   * runs one job's GPU work at a time, and a second generate on the same engine would overwrite the
   * first one's KV cache.
   */
  pick(k: number, exclude: Set<string> = new Set()): string[] {
    return this.list()
      .filter((e) => !exclude.has(e.id) && e.state === 'ready')
      .sort((a, b) => b.gflops - a.gflops || a.id.localeCompare(b.id))
      .slice(0, k)
      .map((e) => e.id);
  }
}
