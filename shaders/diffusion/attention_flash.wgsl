// Query-tiled online-softmax ("flash") single-head spatial self-attention for the LARGE shapes (the
// widened U-Net: c 640/1280 at 4096/1024 positions; DistriFusion patches: lq = L/N queries against
// all lk = L keys). Same bindings, Params and math as attention_online.wgsl:
//   o[ch, i] = sum_j softmax_j(scale * sum_c q[c, i] k[c, j]) v[ch, j]
// attention_online.wgsl runs one workgroup per query, so every query re-reads all of K and V; here a
// workgroup owns BQ queries and streams keys in blocks of BKV, so K and V are read lq / BQ times.
//
// Per key block: (1) the BQ x BKV score tile over ALL c channels, channels staged CC at a time
// through workgroup memory (Qs [CC, BQ], Ks [CC, BKV]), partial sums accumulated in the tile S;
// (2) online softmax per query row (running max M and sum L; acc rescaled by exp(M_old - M_new));
// (3) acc += P V, V staged [CL, BKV] per chunk of CL output channels.
// Output channel split: a thread keeps a fixed QPT x CPT = 4 x 10 register tile (4 queries x 10
// channels lane, lane + CL, ...), so one workgroup writes CO = CL * CPT = 640 channels; for c > CO
// the channels are dealt round-robin to nSlices = ceil(c / CO) workgroups along z (slice s owns
// channels s, s + nSlices, ...: balanced, c 1280 -> 2 x 640), each recomputing the full-c scores.
// Why: holding all c (<= 2048+) outputs per workgroup needs c * BQ / WG registers a thread (128+ at
// c 2048) or c * BQ floats of workgroup memory (far past 16 KB); 40 accumulators a thread is the
// online kernel's budget, and the SD-like U-Net's c = 640 level then recomputes nothing, c = 1280 its
// scores once. Workgroup memory (defaults): stage max(CC (BQ + BKV), CL (BKV + 1)) = 2112 floats
// (Q/K chunks, then V chunks; +1 pad so lanes reading V rows hit distinct banks) + S [BQ, BKV] 512
// + 3 x [BQ] = 10.7 KB, under the 16 KB every adapter grants.
//
// Bindings: 0 Params, 1 qBuf (q[ch, i] = qBuf[qBase + ch * lq + i]), 2 kvBuf (k[ch, j] =
//           kvBuf[kBase + ch * lk + j], v[ch, j] = kvBuf[vBase + ch * lk + j]), 3 out [c, lq].
// Any c, lq, lk >= 1 (bounds-checked; qBuf may be kvBuf). f32 only, no subgroups (SwiftShader).
// Dispatch: WG = BQ / QPT * CL threads; query tiles T = ceil(lq / BQ) folded as x = xGroups =
//           min(T, 65535), y = ceil(T / x); z = nSlices. Tile = wid.y * xGroups + wid.x.

struct Params {
  c: u32,
  lq: u32,
  lk: u32,
  qBase: u32,
  kBase: u32,
  vBase: u32,
  scale: f32,
  xGroups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qBuf: array<f32>;
@group(0) @binding(2) var<storage, read> kvBuf: array<f32>;
@group(0) @binding(3) var<storage, read_write> outp: array<f32>;

const QPT: u32 = 4u; // queries per thread in P V (register tile rows); BQ must be a multiple
const CPT: u32 = 10u; // output channels per thread (register tile columns)
override BQ: u32 = 16u; // queries per workgroup
override BKV: u32 = 32u; // keys per block
override CC: u32 = 32u; // channels per Q/K staging chunk
override CL: u32 = 64u; // channel lanes: output channels per V staging chunk
override WG: u32 = BQ / QPT * CL; // threads: query group qg = lid / CL, lane = lid % CL

var<workgroup> stage: array<f32, max(CC * (BQ + BKV), CL * (BKV + 1u))>; // Qs|Ks, later Vs
var<workgroup> S: array<f32, BQ * BKV>; // scores, then exp weights P [BQ, BKV]
var<workgroup> M: array<f32, BQ>; // running max per query
var<workgroup> L: array<f32, BQ>; // running sum of exp(s - M)
var<workgroup> Al: array<f32, BQ>; // this block's rescale exp(M_old - M_new)

// guarded loads: zero padding past lq / lk / c instead of leaning on robust-access clamping
fn ldQ(idx: u32, ok: bool) -> f32 {
  if (ok) {
    return qBuf[idx];
  }
  return 0.0;
}

fn ldKV(idx: u32, ok: bool) -> f32 {
  if (ok) {
    return kvBuf[idx];
  }
  return 0.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let q0 = (wid.y * p.xGroups + wid.x) * BQ;
  if (q0 >= p.lq) {
    return; // whole workgroup: uniform
  }
  let ns = (p.c + CL * CPT - 1u) / (CL * CPT); // channel slices
  let sl = wid.z; // this slice owns channels sl + ns * cl, cl < nch
  let nch = (p.c - sl + ns - 1u) / ns;
  let qg = lid / CL;
  let lane = lid % CL;
  if (lid < BQ) {
    M[lid] = -3.0e38;
    L[lid] = 0.0;
  }
  var acc: array<f32, QPT * CPT>; // [CPT, QPT]: channel lane + CL r, query qg QPT + a
  for (var u = 0u; u < QPT * CPT; u++) {
    acc[u] = 0.0;
  }
  for (var kb = 0u; kb < p.lk; kb += BKV) {
    // (1) scores S[qq, jj] = sum over all c of q[ch, q0 + qq] k[ch, kb + jj]
    for (var t = lid; t < BQ * BKV; t += WG) {
      S[t] = 0.0;
    }
    for (var c0 = 0u; c0 < p.c; c0 += CC) {
      workgroupBarrier(); // earlier readers of stage (and S zeroing vs. the P V reads) are done
      for (var t = lid; t < CC * BQ; t += WG) {
        let ch = c0 + t / BQ;
        let i = q0 + t % BQ;
        stage[t] = ldQ(p.qBase + ch * p.lq + i, ch < p.c && i < p.lq); // Qs [CC, BQ]
      }
      for (var t = lid; t < CC * BKV; t += WG) {
        let ch = c0 + t / BKV;
        let j = kb + t % BKV;
        stage[CC * BQ + t] = ldKV(p.kBase + ch * p.lk + j, ch < p.c && j < p.lk); // Ks [CC, BKV]
      }
      workgroupBarrier();
      for (var t = lid; t < BQ * BKV; t += WG) {
        let qq = t / BKV;
        let jj = t % BKV;
        var d = 0.0;
        for (var cc = 0u; cc < CC; cc++) {
          d += stage[cc * BQ + qq] * stage[CC * BQ + cc * BKV + jj];
        }
        S[t] += d; // only this thread touches S[t] in this phase
      }
    }
    workgroupBarrier();
    // (2) online softmax, one thread per query row (BKV serial steps: small next to the c-long dots)
    if (lid < BQ) {
      let bl = min(BKV, p.lk - kb);
      var bm = -3.0e38;
      for (var jj = 0u; jj < bl; jj++) {
        bm = max(bm, S[lid * BKV + jj] * p.scale);
      }
      let mNew = max(M[lid], bm);
      let alpha = exp(M[lid] - mNew); // 0 on the first block
      var sum = 0.0;
      for (var jj = 0u; jj < BKV; jj++) {
        let e = select(0.0, exp(S[lid * BKV + jj] * p.scale - mNew), jj < bl);
        S[lid * BKV + jj] = e;
        sum += e;
      }
      L[lid] = L[lid] * alpha + sum;
      M[lid] = mNew;
      Al[lid] = alpha;
    }
    workgroupBarrier();
    // (3) acc = acc * alpha + P V, V staged CL channels at a time
    for (var a = 0u; a < QPT; a++) {
      let alpha = Al[qg * QPT + a];
      for (var r = 0u; r < CPT; r++) {
        acc[r * QPT + a] *= alpha;
      }
    }
    for (var r = 0u; r < CPT; r++) { // constant trip count so the driver can unroll and keep acc in registers
      if (CL * r < nch) { // uniform
        for (var t = lid; t < CL * BKV; t += WG) {
          let cl = CL * r + t / BKV;
          let j = kb + t % BKV;
          let ch = sl + ns * cl;
          stage[(t / BKV) * (BKV + 1u) + t % BKV] = ldKV(p.vBase + ch * p.lk + j, cl < nch && j < p.lk); // Vs [CL, BKV + 1]
        }
        workgroupBarrier();
        for (var jj = 0u; jj < BKV; jj++) {
          let v = stage[lane * (BKV + 1u) + jj];
          for (var a = 0u; a < QPT; a++) {
            acc[r * QPT + a] += S[(qg * QPT + a) * BKV + jj] * v;
          }
        }
        workgroupBarrier(); // Vs rewritten by the next chunk; S and stage by the next key block
      }
    }
  }
  for (var a = 0u; a < QPT; a++) {
    let i = q0 + qg * QPT + a;
    let inv = 1.0 / L[qg * QPT + a];
    for (var r = 0u; r < CPT; r++) {
      let cl = lane + CL * r;
      if (cl < nch && i < p.lq) {
        outp[(sl + ns * cl) * p.lq + i] = acc[r * QPT + a] * inv;
      }
    }
  }
}
