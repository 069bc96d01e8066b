// A DistriFusion conv tile's halo rows in one dispatch (patch parallelism, src/parallel/patch-unet-gpu.ts).
// The tile is [C, R, W] with R = rows + 2: row 0 and row R - 1 are the halo, rows 1..rows this patch's.
// Every peer's boundary rows of a layer are a segment [nb, C, W] (nb = 1 or 2: first row, last row) in
// a flat buffer (src: the other peers' stale values, or a synchronous gather), so:
//   tile[c, 0, x]     = src[top + c W + x]     (the previous peer's last row; 0 when top = NONE)
//   tile[c, R - 1, x] = src[bottom + c W + x]  (the next peer's first row; 0 when bottom = NONE)
// and, entry point fill_send only (async steps), this patch's boundary rows into its send segment:
//   send[mineOff + c W + x]         = tile[c, 1, x]
//   send[mineOff + C W + c W + x]   = tile[c, rows, x]   (when mineRows = 2)
// Why one kernel: the same work was four copy_strided dispatches and a pad_rows per 3x3 conv, about 80 of
// a 1024-px N = 4 peer step's ~300 dispatches, each costing the host 20-35 us to encode and submit
// (bench/results/distrifusion-kernels-*, unet-forward-profile-*).
// Bindings: 0 Params, 1 src (read), 2 tile [C, R, W], 3 send (fill_send only).
// Dispatch: x = ceil(W / 64), y = C; workgroup size 64 (one thread per (c, x)).

const NONE: u32 = 0xffffffffu;

struct Params {
  C: u32,
  W: u32,
  rows: u32, // this patch's rows (R = rows + 2)
  top: u32, // float offset in src of the previous peer's last row [C, W], or NONE
  bottom: u32, // float offset in src of the next peer's first row [C, W], or NONE
  mineOff: u32, // float offset in send of this patch's segment [mineRows, C, W]
  mineRows: u32, // 1 or 2
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> tile: array<f32>;
@group(0) @binding(3) var<storage, read_write> send: array<f32>;

fn halos(c: u32, x: u32) {
  let plane = (p.rows + 2u) * p.W;
  var up = 0.0;
  if (p.top != NONE) {
    up = src[p.top + c * p.W + x];
  }
  var down = 0.0;
  if (p.bottom != NONE) {
    down = src[p.bottom + c * p.W + x];
  }
  tile[c * plane + x] = up;
  tile[c * plane + (p.rows + 1u) * p.W + x] = down;
}

@compute @workgroup_size(64)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = gid.x;
  let c = gid.y;
  if (x >= p.W || c >= p.C) {
    return;
  }
  halos(c, x);
}

@compute @workgroup_size(64)
fn fill_send(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = gid.x;
  let c = gid.y;
  if (x >= p.W || c >= p.C) {
    return;
  }
  halos(c, x);
  let plane = (p.rows + 2u) * p.W;
  send[p.mineOff + c * p.W + x] = tile[c * plane + p.W + x];
  if (p.mineRows == 2u) {
    send[p.mineOff + (p.C + c) * p.W + x] = tile[c * plane + p.rows * p.W + x];
  }
}
