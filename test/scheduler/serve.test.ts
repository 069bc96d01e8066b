// The serving scheduler as a state machine: placement, queue order, routing, re-queue on faults,
// exactly-once settlement and stream de-duplication, driven by explicit events through its public
// API. Expected values are worked out by hand from the rules in src/scheduler/serve.ts' header.
import { describe, expect, it } from 'vitest';
import { ServeError, ServeScheduler, resolveServeOptions, type Feature, type ServeCommand, type ServeOptions, type ServePeer } from '../../src/scheduler/serve';

const GiB = 2 ** 30;
const peer = (id: string, gflops: number, memoryBytes = GiB, features: Feature[] = ['subgroups']): ServePeer => ({ id, gflops, memoryBytes, features });

function harness(opts: Partial<ServeOptions> = {}) {
  const clock = { t: 0 };
  const cmds: ServeCommand<string>[] = [];
  const s = new ServeScheduler<string, string>({ model: 'm', tensor_parallel_size: 2, ...opts }, (c) => cmds.push(c), () => clock.t);
  const of = <K extends ServeCommand<string>['type']>(type: K) => cmds.filter((c): c is Extract<ServeCommand<string>, { type: K }> => c.type === type);
  const runsOf = (request: string) => of('run').filter((c) => c.request === request);
  const lastRun = (request: string) => runsOf(request).at(-1)!;
  return { s, clock, cmds, of, runsOf, lastRun };
}

describe('serve options', () => {
  it('fills Ray Serve defaults and rejects bad fields by name', () => {
    const c = resolveServeOptions({ model: 'x' });
    expect(c).toMatchObject({ tensor_parallel_size: 1, max_ongoing_requests: 5, min_replicas: 1, max_replicas: Infinity, health_check_period_ms: 10_000, health_check_timeout_ms: 30_000 });
    expect(() => resolveServeOptions({ model: 'x', tensor_parallel_size: 0 })).toThrow(/tensor_parallel_size/);
    expect(() => resolveServeOptions({ model: 'x', max_ongoing_requests: 1.5 })).toThrow(/max_ongoing_requests/);
    expect(() => resolveServeOptions({ model: 'x', min_replicas: 3, max_replicas: 2 })).toThrow(/max_replicas/);
    expect(() => resolveServeOptions({ model: 'x', ray_actor_options: { required_features: ['fp64' as Feature] } })).toThrow(/fp64/);
    expect(() => resolveServeOptions({ model: '' })).toThrow(ServeError);
    expect(c.allreduce_wire).toBe('f32');
    expect(resolveServeOptions({ model: 'x', allreduce_wire: 'i8' }).allreduce_wire).toBe('i8');
    expect(() => resolveServeOptions({ model: 'x', allreduce_wire: 'bf16' as 'i8' })).toThrow(/allreduce_wire must be "f32" or "i8", got "bf16"/);
  });
});

describe('replica formation', () => {
  it('pairs peers of similar speed, respects max_replicas and ray_actor_options', () => {
    const h = harness();
    h.s.peersJoined(([['a', 10], ['b', 50], ['c', 12], ['d', 48], ['e', 30]] as const).map(([id, g]) => peer(id, g)));
    // Sorted by GFLOPS: b50 d48 e30 c12 a10 -> [b,d], [e,c]; a is left over.
    expect(h.of('load').map((c) => c.peers)).toEqual([['b', 'd'], ['e', 'c']]);
    // A later joiner pairs with the free peer at once (scale up), and a 7th waits for an 8th.
    h.s.peerJoined(peer('f', 11));
    h.s.peerJoined(peer('g', 99));
    expect(h.of('load').map((c) => c.peers)).toEqual([['b', 'd'], ['e', 'c'], ['f', 'a']]);
    const capped = harness({ max_replicas: 1 });
    capped.s.peersJoined(([['a', 10], ['b', 50], ['c', 12], ['d', 48]] as const).map(([id, g]) => peer(id, g)));
    expect(capped.of('load').map((c) => c.peers)).toEqual([['b', 'd']]);
  });

  it('leaves out peers that miss memory, GFLOPS or features, and says why', () => {
    const h = harness({ ray_actor_options: { min_memory_bytes: 512 << 20, required_features: ['shader-f16'], min_gflops: 5 } });
    h.s.peerJoined(peer('nof16', 100, GiB, ['subgroups']));
    h.s.peerJoined(peer('small', 100, 128 << 20, ['shader-f16']));
    h.s.peerJoined(peer('slow', 1, GiB, ['shader-f16']));
    h.s.peerJoined(peer('ok1', 20, GiB, ['shader-f16']));
    expect(h.of('load')).toHaveLength(0);
    const why = h.s.formationBlocker();
    expect(why).toContain('1 available');
    expect(why).toContain('nof16: lacks shader-f16');
    expect(why).toContain('small: memory');
    expect(why).toContain('slow: 1.0 GFLOPS < min_gflops 5');
    h.s.peerJoined(peer('ok2', 21, GiB, ['shader-f16', 'subgroups']));
    expect(h.of('load').map((c) => c.peers)).toEqual([['ok2', 'ok1']]);
  });
});

describe('queue and routing', () => {
  it('routes FIFO to the least-loaded ready replica, one run at a time per replica, with queue positions', () => {
    const h = harness({ max_ongoing_requests: 2 });
    for (const [id, g] of [['a', 10], ['b', 10], ['c', 9], ['d', 9]] as const) h.s.peerJoined(peer(id, g));
    const ids = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((p) => h.s.submit(p).id);
    expect(h.s.request(ids[0])).toMatchObject({ state: 'queued', position: 0 }); // nothing is loaded yet
    h.s.loaded('r1'); // r1 = [a,b] (faster): takes q1, q2 (2 = max_ongoing)
    expect(h.s.replicas().find((r) => r.id === 'r1')!.ongoing).toBe(2);
    expect(h.s.request(ids[2])).toMatchObject({ state: 'queued', position: 0 });
    h.s.loaded('r2'); // r2 takes q3, q4; q5, q6 wait
    expect(h.of('run').map((c) => [c.request, c.replica])).toEqual([['q1', 'r1'], ['q3', 'r2']]);
    expect(h.s.request(ids[3])).toMatchObject({ state: 'assigned', replica: 'r2' });
    expect(h.s.request(ids[5])).toMatchObject({ state: 'queued', position: 1 });
    h.s.finished('q3', 1, 'out3'); // r2 now has 1 < r1's 2: q5 goes to r2, and r2 runs q4
    expect(h.s.request('q5')).toMatchObject({ state: 'assigned', replica: 'r2' });
    expect(h.lastRun('q4').replica).toBe('r2');
    expect(h.s.request('q6')).toMatchObject({ state: 'queued', position: 0 });
  });

  it('an idle replica takes a waiting request from a busy one', () => {
    const h = harness({ max_ongoing_requests: 5 });
    for (const id of ['a', 'b', 'c', 'd']) h.s.peerJoined(peer(id, 10));
    h.s.loaded('r1');
    for (const p of ['x', 'y', 'z']) h.s.submit(p); // all three on r1 (the only ready replica)
    expect(h.s.replicas().find((r) => r.id === 'r1')!.ongoing).toBe(3);
    h.s.loaded('r2'); // r2 steals the newest waiting one (q3); q1 keeps running on r1
    expect(h.lastRun('q3').replica).toBe('r2');
    expect(h.s.request('q2')).toMatchObject({ state: 'assigned', replica: 'r1' });
  });

  it('cancels a queued request and fails it with 499', async () => {
    const h = harness();
    const { id, done } = h.s.submit('p');
    expect(h.s.cancel(id)).toBe(true);
    await expect(done).rejects.toMatchObject({ status: 499 });
    expect(h.s.request(id)!.state).toBe('cancelled');
  });
});

describe('faults: nothing lost, nothing twice', () => {
  it('a peer leaving re-queues its replica\'s requests in order; the stream skips replayed tokens', async () => {
    const h = harness({ max_ongoing_requests: 3 });
    for (const id of ['a', 'b', 'c', 'd']) h.s.peerJoined(peer(id, id < 'c' ? 20 : 10));
    h.s.loaded('r1'); // [a,b]
    const streamed: string[] = [];
    const r1 = h.s.submit('first', { onToken: (e) => streamed.push(e.text) });
    const r2 = h.s.submit('second');
    const r3 = h.s.submit('third');
    const tokens = ['Once', ' upon', ' a', ' time'];
    for (let i = 0; i < 2; i++) h.s.token('q1', 1, { index: 0, tokenId: i, text: tokens[i] });
    h.s.peerLeft('b'); // r1 dies mid-stream: q1..q3 back in the queue in submission order
    expect(h.of('abandon').map((c) => c.replica)).toEqual(['r1']);
    expect(h.s.requests().map((r) => [r.id, r.state, r.position])).toEqual([['q1', 'queued', 0], ['q2', 'queued', 1], ['q3', 'queued', 2]]);
    const r4 = h.s.submit('fourth'); // arrives after the fault: behind the re-queued ones
    expect(h.s.request(r4.id)!.position).toBe(3);
    h.s.loaded('r2'); // [c,d]
    expect(h.lastRun('q1')).toMatchObject({ replica: 'r2', attempt: 2 });
    // The dead attempt's late reports are ignored.
    h.s.token('q1', 1, { index: 0, tokenId: 9, text: 'STALE' });
    h.s.finished('q1', 1, 'stale result');
    expect(h.s.staleReports).toBe(1);
    // Attempt 2 replays the same seeded tokens from the start: only the new ones reach the stream.
    for (let i = 0; i < 4; i++) h.s.token('q1', 2, { index: 0, tokenId: i, text: tokens[i] });
    expect(streamed.join('')).toBe('Once upon a time');
    h.s.finished('q1', 2, 'text1');
    h.s.finished('q1', 2, 'again'); // a duplicate report changes nothing
    await expect(r1.done).resolves.toBe('text1');
    h.s.finished('q2', 1, 'text2');
    h.s.finished('q3', 1, 'text3');
    h.s.finished('q4', 1, 'text4');
    await expect(Promise.all([r2.done, r3.done, r4.done])).resolves.toEqual(['text2', 'text3', 'text4']);
    expect(h.s.requests().every((r) => r.state === 'done')).toBe(true);
    expect(h.s.replicas().find((r) => r.id === 'r2')!.completed).toBe(4);
  });

  it('a job fault dissolves the replica; survivors sit out reform_delay_ms, then regroup', () => {
    const h = harness({ reform_delay_ms: 4000 });
    for (const id of ['a', 'b']) h.s.peerJoined(peer(id, 10));
    h.s.loaded('r1');
    h.s.submit('p');
    h.s.runFailed('q1', 1, 'peer a: data channel closed', true);
    expect(h.s.replicas()[0]).toMatchObject({ state: 'dead', reason: 'peer a: data channel closed' });
    expect(h.s.request('q1')).toMatchObject({ state: 'queued', attempts: 1 });
    expect(h.of('load')).toHaveLength(1); // not regrouped at once
    h.clock.t = 4000;
    h.s.tick();
    expect(h.of('load').map((c) => [c.replica, c.peers])).toEqual([['r1', ['a', 'b']], ['r2', ['a', 'b']]]);
    h.s.loaded('r2');
    expect(h.lastRun('q1')).toMatchObject({ replica: 'r2', attempt: 2 });
  });

  it('a request error fails only that request (400), the replica keeps serving', async () => {
    const h = harness();
    for (const id of ['a', 'b']) h.s.peerJoined(peer(id, 10));
    h.s.loaded('r1');
    const bad = h.s.submit('too long');
    const good = h.s.submit('fine');
    h.s.runFailed('q1', 1, 'generate: prompt of 2000 tokens leaves no room in 1024 positions', false);
    await expect(bad.done).rejects.toMatchObject({ status: 400, message: expect.stringContaining('leaves no room') });
    expect(h.lastRun('q2').replica).toBe('r1');
    h.s.finished('q2', 1, 'ok');
    await expect(good.done).resolves.toBe('ok');
  });

  it('gives up after max_attempts faults with the last reason', async () => {
    const h = harness({ max_attempts: 2, reform_delay_ms: 0 });
    for (const id of ['a', 'b']) h.s.peerJoined(peer(id, 10));
    const { done } = h.s.submit('p');
    h.s.loaded('r1');
    h.s.runFailed('q1', 1, 'boom 1', true);
    h.s.tick();
    h.s.loaded('r2');
    h.s.runFailed('q1', 2, 'boom 2', true);
    await expect(done).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/after 2 attempts.*boom 2/) });
  });

  it('a stalled replica fails its health check; its peers are not used again', () => {
    const h = harness({ health_check_timeout_ms: 5000, max_ongoing_requests: 1 });
    for (const [id, g] of [['a', 20], ['b', 20], ['c', 10], ['d', 10]] as const) h.s.peerJoined(peer(id, g));
    h.s.loaded('r1');
    h.s.loaded('r2');
    h.s.submit('x');
    h.s.submit('y');
    h.clock.t = 3000;
    h.s.token('q2', 1, { index: 0, tokenId: 1, text: 'a' }); // r2 makes progress, r1 does not
    h.clock.t = 6000;
    h.s.tick();
    expect(h.s.replicas().map((r) => r.state)).toEqual(['dead', 'ready']);
    expect(h.s.replicas()[0].reason).toMatch(/health check/);
    h.s.finished('q2', 1, 'y-out');
    expect(h.lastRun('q1')).toMatchObject({ replica: 'r2', attempt: 2 });
    h.clock.t = 60_000;
    h.s.tick();
    expect(h.of('load')).toHaveLength(2); // a and b stay out
    expect(h.s.formationBlocker()).toContain('a: stalled in r1');
  });
});

describe('no replica', () => {
  it('requests wait up to queue_timeout_ms, then fail 503 with the reason; a joining pair serves the rest', async () => {
    const h = harness({ queue_timeout_ms: 10_000 });
    h.s.peerJoined(peer('solo', 10));
    const early = h.s.submit('p1');
    h.clock.t = 5000;
    const late = h.s.submit('p2');
    h.clock.t = 10_000;
    h.s.tick();
    await expect(early.done).rejects.toMatchObject({ status: 503, message: expect.stringContaining('tensor_parallel_size=2 needs 2 free eligible peers, 1 available') });
    expect(h.s.request(late.id)!.state).toBe('queued');
    h.s.peerJoined(peer('second', 10)); // a replica forms: waiting no longer times out
    h.clock.t = 30_000;
    h.s.tick();
    h.s.loaded('r1');
    h.s.finished('q2', 1, 'done');
    await expect(late.done).resolves.toBe('done');
  });

  it('stop() fails waiting requests and refuses new ones', async () => {
    const h = harness();
    const { done } = h.s.submit('p');
    h.s.stop('shutting down');
    await expect(done).rejects.toMatchObject({ status: 503, message: 'shutting down' });
    expect(() => h.s.submit('q')).toThrow(/stopped/);
  });
});

describe('batching (max_batch_size)', () => {
  it('runs up to max_batch_size requests together and refills a finished one\'s slot at once', async () => {
    const h = harness({ max_batch_size: 3, max_ongoing_requests: 5 });
    for (const id of ['a', 'b']) h.s.peerJoined(peer(id, 10));
    h.s.loaded('r1');
    const reqs = ['p1', 'p2', 'p3', 'p4', 'p5'].map((p) => h.s.submit(p));
    // Three run at once (one batch); q4, q5 wait on the replica.
    expect(h.of('run').map((c) => c.request)).toEqual(['q1', 'q2', 'q3']);
    expect(h.s.replicas()[0]).toMatchObject({ batch: ['q1', 'q2', 'q3'], slots: 3, ongoing: 5, peakBatch: 3 });
    expect(h.s.request('q4')).toMatchObject({ state: 'assigned', replica: 'r1' });
    h.s.finished('q2', 1, 'out2'); // its slot goes to q4 now, not after the batch drains
    expect(h.of('run').map((c) => c.request)).toEqual(['q1', 'q2', 'q3', 'q4']);
    expect(h.s.replicas()[0].batch).toEqual(['q1', 'q3', 'q4']);
    for (const q of ['q1', 'q3', 'q4', 'q5']) h.s.finished(q, 1, `out${q[1]}`);
    await expect(Promise.all(reqs.map((r) => r.done))).resolves.toEqual(['out1', 'out2', 'out3', 'out4', 'out5']);
    expect(h.s.replicas()[0]).toMatchObject({ batch: [], slots: 0, completed: 5, peakBatch: 3 }); // the peak outlives the batch
  });

  it('counts n completions as n slots, keeps order, and runs an oversized request alone', () => {
    const h = harness({ max_batch_size: 4, max_ongoing_requests: 10 });
    for (const id of ['a', 'b']) h.s.peerJoined(peer(id, 10));
    h.s.loaded('r1');
    h.s.submit('A', { slots: 2 });
    h.s.submit('B', { slots: 3 }); // 2 + 3 > 4: waits, and C behind it waits too (no overtaking)
    h.s.submit('C', { slots: 1 });
    expect(h.of('run').map((c) => [c.request, c.slots])).toEqual([['q1', 2]]);
    h.s.finished('q1', 1, 'a');
    expect(h.of('run').map((c) => c.request)).toEqual(['q1', 'q2', 'q3']); // B (3) + C (1) = 4
    h.s.submit('D', { slots: 6 }); // more than a batch: waits for an empty replica, then runs alone
    h.s.submit('E');
    h.s.finished('q2', 1, 'b');
    expect(h.of('run').map((c) => c.request)).toEqual(['q1', 'q2', 'q3']);
    h.s.finished('q3', 1, 'c');
    expect(h.of('run').map((c) => c.request)).toEqual(['q1', 'q2', 'q3', 'q4']);
    expect(h.s.replicas()[0]).toMatchObject({ batch: ['q4'], slots: 6 });
    h.s.finished('q4', 1, 'd');
    expect(h.lastRun('q5').replica).toBe('r1');
  });

  it('a peer leaving mid-batch re-queues the whole batch once; late reports of the dead attempts are ignored', async () => {
    const h = harness({ max_batch_size: 4 });
    for (const id of ['a', 'b', 'c', 'd']) h.s.peerJoined(peer(id, id < 'c' ? 20 : 10));
    h.s.loaded('r1');
    const reqs = ['x', 'y', 'z'].map((p) => h.s.submit(p));
    expect(h.s.replicas()[0].batch).toEqual(['q1', 'q2', 'q3']);
    h.s.token('q2', 1, { index: 0, tokenId: 5, text: 'hi' });
    h.s.peerLeft('a');
    expect(h.s.requests().map((r) => [r.id, r.state, r.position])).toEqual([['q1', 'queued', 0], ['q2', 'queued', 1], ['q3', 'queued', 2]]);
    // The surviving peer's job errors for the other batch members arrive late: stale, ignored.
    h.s.runFailed('q1', 1, 'peer a left', true);
    h.s.runFailed('q3', 1, 'collective failed', true);
    expect(h.s.staleReports).toBe(2);
    expect(h.of('abandon')).toHaveLength(1);
    h.s.loaded('r2');
    expect(h.s.replicas().find((r) => r.id === 'r2')!.batch).toEqual(['q1', 'q2', 'q3']);
    for (const q of ['q1', 'q2', 'q3']) expect(h.lastRun(q)).toMatchObject({ replica: 'r2', attempt: 2 });
    for (const q of ['q3', 'q1', 'q2']) h.s.finished(q, 2, `${q}-2`);
    h.s.finished('q1', 2, 'twice');
    await expect(Promise.all(reqs.map((r) => r.done))).resolves.toEqual(['q1-2', 'q2-2', 'q3-2']);
  });

  it('a batch is healthy while any member progresses; an idle replica takes work waiting behind a full batch', () => {
    const h = harness({ max_batch_size: 2, max_ongoing_requests: 10, health_check_timeout_ms: 5000 });
    for (const [id, g] of [['a', 20], ['b', 20], ['c', 10], ['d', 10]] as const) h.s.peerJoined(peer(id, g));
    h.s.loaded('r1');
    for (const p of ['1', '2', '3', '4']) h.s.submit(p); // r1 runs q1, q2; q3, q4 wait on it
    expect(h.s.replicas()[0]).toMatchObject({ batch: ['q1', 'q2'], ongoing: 4 });
    h.s.loaded('r2'); // r2 takes the newest waiting request (q4) and runs it; q3 stays queued on r1
    expect(h.lastRun('q4').replica).toBe('r2');
    expect(h.s.request('q3')).toMatchObject({ state: 'assigned', replica: 'r1' });
    h.clock.t = 4000;
    h.s.token('q2', 1, { index: 0, tokenId: 1, text: 'a' }); // q1 silent, q2 moves: r1 is alive
    h.s.token('q4', 1, { index: 0, tokenId: 1, text: 'a' });
    h.clock.t = 8000;
    h.s.tick();
    expect(h.s.replicas().map((r) => r.state)).toEqual(['ready', 'ready']);
    h.s.token('q4', 1, { index: 0, tokenId: 2, text: 'b' }); // r2 keeps moving
    h.clock.t = 9500;
    h.s.tick(); // now r1's batch has been silent for 5.5 s
    expect(h.s.replicas().map((r) => r.state)).toEqual(['dead', 'ready']);
  });
});
