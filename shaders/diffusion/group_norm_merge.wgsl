// GroupNorm statistics, step 2 of 2 for large groups (after group_norm_stats.wgsl's chunks): merges a
// group's chunk moments [count, mean, M2] with Chan et al.'s pairwise update (delta = mean_b - mean_a,
// mean = mean_a + delta * n_b / n, M2 = M2_a + M2_b + delta^2 * n_a * n_b / n), which keeps the
// two-pass accuracy: no E[x^2] - mean^2 anywhere. Each thread merges chunks lid, lid + WG, ... in
// order, then a tree merges the threads'.
// Override FINALIZE: 1 -> out[g] = [mean, 1 / sqrt(var + eps)] (what norm_apply.wgsl reads);
//                    0 -> out[g] = [mean, var] (biased), as group_norm_stats.wgsl writes them.
// Bindings: 0 Params, 1 part [groups, chunks, 4], 2 out [groups, 2].
// Dispatch: x = groups; workgroup size 64.

override FINALIZE: u32 = 1u;

struct Params {
  chunks: u32,
  eps: f32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> outp: array<f32>;

const WG: u32 = 64u;
var<workgroup> rn: array<f32, 64>;
var<workgroup> rm: array<f32, 64>;
var<workgroup> rq: array<f32, 64>;

// (n, mean, M2) of a and b together; an empty side (n = 0) leaves the other as it is
fn merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
  let n = a.x + b.x;
  if (b.x == 0.0) {
    return a;
  }
  if (a.x == 0.0) {
    return b;
  }
  let d = b.y - a.y;
  return vec3<f32>(n, a.y + d * (b.x / n), a.z + b.z + d * d * (a.x * b.x / n));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  var acc = vec3<f32>(0.0, 0.0, 0.0);
  for (var c = lid; c < p.chunks; c += WG) {
    let o = 4u * (g * p.chunks + c);
    acc = merge(acc, vec3<f32>(part[o], part[o + 1u], part[o + 2u]));
  }
  rn[lid] = acc.x;
  rm[lid] = acc.y;
  rq[lid] = acc.z;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      let m = merge(vec3<f32>(rn[lid], rm[lid], rq[lid]), vec3<f32>(rn[lid + s], rm[lid + s], rq[lid + s]));
      rn[lid] = m.x;
      rm[lid] = m.y;
      rq[lid] = m.z;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let v = rq[0] / rn[0];
    outp[2u * g] = rm[0];
    outp[2u * g + 1u] = select(v, 1.0 / sqrt(v + p.eps), FINALIZE == 1u);
  }
}
