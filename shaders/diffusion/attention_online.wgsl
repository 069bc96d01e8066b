// Single-head spatial self-attention for LARGE shapes (the widened U-Net: c up to 2048, any number
// of keys), same math and layout as attention.wgsl:
//   o[ch, i] = sum_j softmax_j(scale * sum_c q[c, i] k[c, j]) v[ch, j]
// attention.wgsl keeps every score of a query in workgroup memory (lk <= 1024, c <= 512); here keys
// stream in blocks of 64 with an online softmax (running max m and sum l, the output accumulator
// rescaled by exp(m_old - m_new) per block), so workgroup memory is [c] + 2 x [64] floats whatever lk is,
// and nothing quadratic is ever stored.
//
// Bindings: 0 Params, 1 qBuf (q[ch, i] = qBuf[qBase + ch * lq + i]), 2 kvBuf (k[ch, j] =
//           kvBuf[kBase + ch * lk + j], v[ch, j] = kvBuf[vBase + ch * lk + j]), 3 out [c, lq].
// Limits: c <= 2048 (64 threads x 32 accumulators each).
// Dispatch: lq workgroups of 64 threads, one per query, as x = min(lq, 65535), y = ceil(lq / x);
//           query i = wid.y * xGroups + wid.x.

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

const WG: u32 = 64u;
const MAX_C: u32 = 2048u;
const ACC: u32 = 32u; // MAX_C / WG accumulators per thread: channels lid, lid + 64, ...
var<workgroup> qv: array<f32, MAX_C>; // this query's vector [c]
var<workgroup> pw: array<f32, WG>; // this block's exp weights [64]
var<workgroup> red: array<f32, WG>;

// tree reduction of red[0..WG) into red[0] (max or sum); called from uniform control flow
fn reduceMax(lid: u32) {
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      red[lid] = max(red[lid], red[lid + s]);
    }
    workgroupBarrier();
  }
}

fn reduceSum(lid: u32) {
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.y * p.xGroups + wid.x;
  if (i >= p.lq) {
    return; // whole workgroup: uniform
  }
  for (var ch = lid; ch < p.c; ch += WG) {
    qv[ch] = qBuf[p.qBase + ch * p.lq + i];
  }
  workgroupBarrier();
  var acc: array<f32, ACC>;
  for (var r = 0u; r < ACC; r++) {
    acc[r] = 0.0;
  }
  var m = -3.0e38; // running max
  var l = 0.0; // running sum of exp(s - m)
  for (var kb = 0u; kb < p.lk; kb += WG) {
    let j = kb + lid;
    var s = -3.0e38;
    if (j < p.lk) {
      var d = 0.0;
      for (var ch = 0u; ch < p.c; ch++) {
        d += qv[ch] * kvBuf[p.kBase + ch * p.lk + j];
      }
      s = d * p.scale;
    }
    red[lid] = s;
    workgroupBarrier();
    reduceMax(lid);
    let mNew = max(m, red[0]);
    workgroupBarrier(); // all read red[0] before it is reused
    let alpha = exp(m - mNew); // 0 on the first block
    let e = select(0.0, exp(s - mNew), j < p.lk);
    pw[lid] = e;
    red[lid] = e;
    workgroupBarrier();
    reduceSum(lid);
    l = l * alpha + red[0];
    m = mNew;
    let bl = min(WG, p.lk - kb);
    for (var r = 0u; r < ACC; r++) {
      let ch = lid + r * WG;
      if (ch < p.c) {
        let vb = p.vBase + ch * p.lk + kb;
        var a = 0.0;
        for (var jj = 0u; jj < bl; jj++) {
          a += pw[jj] * kvBuf[vb + jj];
        }
        acc[r] = acc[r] * alpha + a;
      }
    }
    workgroupBarrier(); // pw and red are rewritten by the next block
  }
  let inv = 1.0 / l;
  for (var r = 0u; r < ACC; r++) {
    let ch = lid + r * WG;
    if (ch < p.c) {
      outp[ch * p.lq + i] = acc[r] * inv;
    }
  }
}
