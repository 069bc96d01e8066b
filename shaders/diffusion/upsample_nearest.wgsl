// Nearest-neighbour upsample by an integer factor: [C, H, W] -> [C, H*f, W*f] (U-Net decoders).
// Bindings: 0 Params, 1 x [C, H, W], 2 y [C, H*f, W*f]. Dispatch: x = ceil(H*f * W*f / 64), y = C.

struct Params {
  channels: u32,
  height: u32,
  width: u32,
  factor: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ho = p.height * p.factor;
  let wo = p.width * p.factor;
  let pix = gid.x;
  let c = gid.y;
  if (pix >= ho * wo || c >= p.channels) {
    return;
  }
  let i = pix / wo;
  let j = pix % wo;
  y[c * ho * wo + pix] = x[(c * p.height + i / p.factor) * p.width + j / p.factor];
}
