// Single-head spatial self-attention over positions, channel-major tensors:
//   o[ch, i] = sum_j softmax_j(scale * sum_c q[c, i] k[c, j]) v[ch, j]
// Queries come from qBuf (this patch's Lq positions), keys/values from kvBuf (Lk positions). For
// one device, qBuf and kvBuf are the same qkv conv output [3c, L] (q, k, v at channel offsets
// 0, c, 2c). For DistriFusion, kvBuf is a [2c, Lk] buffer holding every row of the image: this
// peer's fresh rows plus the other peers' stale rows, so the kernel never sees the difference.
//
// Bindings: 0 Params, 1 qBuf (q[ch, i] = qBuf[qBase + ch * lq + i]), 2 kvBuf (k[ch, j] =
//           kvBuf[kBase + ch * lk + j], v[ch, j] = kvBuf[vBase + ch * lk + j]), 3 out [c, lq].
// Limits: c <= 512, lk <= 1024 (scores of one query live in workgroup memory).
// Dispatch: x = lq; one workgroup (64 threads) per query position.

struct Params {
  c: u32,
  lq: u32,
  lk: u32,
  qBase: u32,
  kBase: u32,
  vBase: u32,
  scale: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qBuf: array<f32>;
@group(0) @binding(2) var<storage, read> kvBuf: array<f32>;
@group(0) @binding(3) var<storage, read_write> outp: array<f32>;

const WG: u32 = 64u;
var<workgroup> qv: array<f32, 512>; // this query's vector [c]
var<workgroup> sc: array<f32, 1024>; // scores, then exp weights [lk]
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  for (var ch = lid; ch < p.c; ch += WG) {
    qv[ch] = qBuf[p.qBase + ch * p.lq + i];
  }
  workgroupBarrier();
  var mx = -3.0e38;
  for (var j = lid; j < p.lk; j += WG) {
    var d = 0.0;
    for (var ch = 0u; ch < p.c; ch++) {
      d += qv[ch] * kvBuf[p.kBase + ch * p.lk + j];
    }
    d *= p.scale;
    sc[j] = d;
    mx = max(mx, d);
  }
  red[lid] = mx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      red[lid] = max(red[lid], red[lid + s]);
    }
    workgroupBarrier();
  }
  let m = red[0];
  workgroupBarrier(); // all read the max before red is reused
  var l = 0.0;
  for (var j = lid; j < p.lk; j += WG) {
    let e = exp(sc[j] - m);
    sc[j] = e;
    l += e;
  }
  red[lid] = l;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var ch = lid; ch < p.c; ch += WG) {
    var acc = 0.0;
    let vb = p.vBase + ch * p.lk;
    for (var j = 0u; j < p.lk; j++) {
      acc += sc[j] * kvBuf[vb + j];
    }
    outp[ch * p.lq + i] = acc * inv;
  }
}
