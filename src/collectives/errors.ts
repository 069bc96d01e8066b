// The one error type collectives reject with, so callers can tell which peer broke a group.

export type CollectiveFailure =
  | 'timeout' // the deadline passed; `peer` is one we were still waiting for
  | 'peer-closed' // `peer`'s link closed (the peer left); the group is unusable from now on
  | 'protocol' // `peer` sent something inconsistent (e.g. a different length in allReduce)
  | 'usage' // this caller passed bad arguments (peer is null)
  | 'disposed'; // the GroupComm was disposed while the call was outstanding

export class CollectiveError extends Error {
  constructor(
    /** The peer id responsible (the one that left, timed out or misbehaved), null if none is known. */
    readonly peer: string | null,
    readonly kind: CollectiveFailure,
    /** e.g. 'allReduce#12' (operation and the group's call sequence number). */
    readonly op: string,
    /** The message without the `op: ` prefix. */
    readonly detail: string,
  ) {
    super(`${op}: ${detail}`);
    this.name = 'CollectiveError';
  }
}
