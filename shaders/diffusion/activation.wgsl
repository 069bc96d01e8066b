// Elementwise activations. Entry points: `gelu` (exact erf form), `silu`.
// Bindings: 0 Params { n }, 1 x [n], 2 y [n]. Dispatch: x = ceil(n / 64).

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// erfc(z) for z >= 0, Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7)
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  return t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
}

@compute @workgroup_size(64)
fn gelu(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.n) {
    return;
  }
  let v = x[i];
  let r = 0.5 * erfc_pos(abs(v) * 0.70710678118654752);
  y[i] = v * select(r, 1.0 - r, v >= 0.0);
}

@compute @workgroup_size(64)
fn silu(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.n) {
    return;
  }
  let v = x[i];
  y[i] = v / (1.0 + exp(-v));
}
