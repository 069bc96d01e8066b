// Build a conv's halo-padded input tile: dst [C, top + rows + bottom, W] from src [C, rows, W]
// (middle rows) and halo rows that are either zero (image edge / one device) or taken from a halo
// buffer [C, top + bottom, W] (a patch's neighbour rows: top rows first, then bottom rows).
//
// Overrides: HALO 0 -> halo rows are 0, 1 -> halo rows come from `halo`;
//            MID 1 -> copy src into the middle rows, 0 -> leave them (already written in place,
//            e.g. by norm_apply with outRowOffset = top).
// Bindings: 0 Params, 1 src [C, rows, W], 2 halo [C, top + bottom, W] (any buffer when HALO = 0),
//           3 dst [C, top + rows + bottom, W].
// Dispatch: x = ceil((top + rows + bottom) * W / 64), y = C.

override HALO: u32 = 0u;
override MID: u32 = 1u;

struct Params {
  channels: u32,
  rows: u32,
  width: u32,
  top: u32,
  bottom: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> halo: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let outRows = p.top + p.rows + p.bottom;
  let pix = gid.x;
  let c = gid.y;
  if (pix >= outRows * p.width || c >= p.channels) {
    return;
  }
  let r = pix / p.width;
  let w = pix % p.width;
  let o = (c * outRows + r) * p.width + w;
  if (r >= p.top && r < p.top + p.rows) {
    if (MID == 1u) {
      dst[o] = src[(c * p.rows + r - p.top) * p.width + w];
    }
    return;
  }
  if (HALO == 0u) {
    dst[o] = 0.0;
    return;
  }
  // halo row index: top rows 0..top-1, bottom rows top..top+bottom-1
  let hr = select(r - p.rows, r, r < p.top);
  dst[o] = halo[(c * (p.top + p.bottom) + hr) * p.width + w];
}
