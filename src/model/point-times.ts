// The time split of a tensor-parallel LLM step at its all-reduce points (LlamaGpu.times), kept apart
// from the model so engines and benches can carry it without the forward pass.

/**
 * Where the wall time of a tensor-parallel step goes, split at its all-reduce points (cheap
 * performance.now() timers; a caller that wants them sets LlamaGpu.times). Per point the step runs:
 * encode the segment up to the point (CPU), read the partial back (submit, GPU finish, mapAsync,
 * copy out), the reduce call (framing + channel.send to every peer: synchronous), the wait for the
 * sum (the peers' partials in flight, their lateness, the sum), write the sum back.
 */
export interface PointTimes {
  steps: number; // forward / decodeBatch calls
  stepMs: number; // their wall time: everything below plus the head matmul and the logits read
  points: number; // all-reduce points passed
  encodeMs: number; // CPU encoding before each point (from the step start or the previous point's end)
  readMs: number; // gpu.read of the partial: submit, GPU finish, mapAsync, copy out
  mapMs: number; // of readMs: awaiting mapAsync
  sendMs: number; // the reduce call's synchronous part (framing, channel.send to every peer)
  waitMs: number; // awaiting the sum after the call returned
  aheadMs: number; // of waitMs: encoding the next segment while the exchange is in flight
  writeMs: number; // writing the sum back (and submitting the segment encoded ahead, with the next partial's read-back copy)
}

export const zeroPointTimes = (): PointTimes => ({ steps: 0, stepMs: 0, points: 0, encodeMs: 0, readMs: 0, mapMs: 0, sendMs: 0, waitMs: 0, aheadMs: 0, writeMs: 0 });
