import { describe, expect, it } from 'vitest';
import {
  SGM_TILED_DEFAULT, SGM_TILED_MAXV, packI8, planGemmSubgroupMatrix, planGemmSubgroupMatrixTiled, referenceI8, sgmTiledConfigError,
  sgmTiledGeometry, sgmTiledLabel, sgmTiledShapeError, subgroupMatrixConfigs, subgroupMatrixSupport, type SgmTiledConfig, type SgmTiledLimits,
} from '../../src/kernels/gemm-subgroup-matrix';
import tiledSrc from '../../shaders/gemm/gemm_subgroup_matrix_i8_tiled.wgsl?raw';
import { create, globals } from 'webgpu';

// The shader itself runs only where the adapter offers subgroup matrices (the H100 bench validates it
// against referenceI8); here: the host helpers, and that the local adapter is gated off correctly.
describe('gemm_subgroup_matrix_i8 host side', () => {
  it('referenceI8 matches a hand-computed product and packI8 is little-endian', () => {
    const a = Int8Array.from([1, -2, 3, 4]); // [2, 2]
    const b = Int8Array.from([5, 6, -7, 8]); // [N=2, K=2]
    expect([...referenceI8(a, b, 2, 2, 2)]).toEqual([1 * 5 - 2 * 6, -7 - 16, 15 + 24, -21 + 32]);
    expect([...packI8(Int8Array.from([1, 2, 3, -1]))]).toEqual([(0xff << 24) | (3 << 16) | (2 << 8) | 1]);
  });

  it('reads config getters by name and gates on the i8 config', () => {
    class Cfg { get componentType() { return 'i8'; } get resultComponentType() { return 'i32'; } get M() { return 16; } get N() { return 16; } get K() { return 32; } }
    const info = { subgroupMatrixConfigs: [new Cfg()] };
    expect(subgroupMatrixConfigs(info)).toEqual([{ componentType: 'i8', resultComponentType: 'i32', M: 16, N: 16, K: 32 }]);
    expect(subgroupMatrixSupport(['chromium-experimental-subgroup-matrix'], info)).toBeNull();
    expect(subgroupMatrixSupport([], info)).toMatch(/feature/);
    expect(subgroupMatrixSupport(['chromium-experimental-subgroup-matrix'], { subgroupMatrixConfigs: [] })).toMatch(/config/);
    expect(() => planGemmSubgroupMatrix(64, 64, 48)).toThrow(/K % 32/);
    expect(planGemmSubgroupMatrix(128, 256, 64).workgroups).toEqual([4, 2]);
  });

  it('the local adapter gate agrees with its features', async () => {
    Object.assign(globalThis, globals);
    const adapter = await (create([]) as unknown as GPU).requestAdapter();
    expect(adapter).toBeTruthy();
    const why = subgroupMatrixSupport(adapter!.features as unknown as Set<string>, adapter!.info);
    expect(why === null).toBe(adapter!.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName));
  });
});

const H100: SgmTiledLimits = { maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, subgroupMaxSize: 32 };
// What bench/gemm-subgroup-matrix.ts times (SGM_TILED_DEFAULT = 128x128 sg2x2 bk64 pad4 swz; plain stores; BK 32;
// 256x128 and 128x256), and a 64x64 one.
const PLAIN: SgmTiledConfig = { sgM: 2, sgN: 2, bk: 64, pad: 4, swizzle: false };
const TILED: SgmTiledConfig[] = [
  SGM_TILED_DEFAULT, PLAIN, { sgM: 2, sgN: 2, bk: 32, pad: 4 }, { sgM: 4, sgN: 2, bk: 64, pad: 4 }, { sgM: 2, sgN: 4, bk: 64, pad: 4 },
  { sgM: 1, sgN: 1, bk: 64, pad: 4 },
];

describe('gemm_subgroup_matrix_i8_tiled host side', () => {
  it('derives geometry and workgroup storage from the knobs', () => {
    // 128x128 block, 4 subgroups, 20-word rows (16 of k + 4 pad): (128 + 128) rows * 80 B
    expect(sgmTiledGeometry(SGM_TILED_DEFAULT)).toEqual({ wg: 128, bm: 128, bn: 128, row: 20, va: 4, vb: 4, workgroupBytes: 20480 });
    // BK 32: 12-word rows, (128 + 128) * 48 B
    expect(sgmTiledGeometry({ sgM: 2, sgN: 2, bk: 32, pad: 4 })).toEqual({ wg: 128, bm: 128, bn: 128, row: 12, va: 2, vb: 2, workgroupBytes: 12288 });
    expect(sgmTiledGeometry({ sgM: 2, sgN: 4, bk: 64, pad: 4 })).toEqual({ wg: 256, bm: 128, bn: 256, row: 20, va: 2, vb: 4, workgroupBytes: 30720 });
  });

  it('accepts the bench configs on H100 limits and rejects bad knobs and limits', () => {
    for (const c of TILED) expect(sgmTiledConfigError(c, H100)).toBeNull();
    expect(sgmTiledConfigError({ ...SGM_TILED_DEFAULT, swizzle: 1 as unknown as boolean }, H100)).toMatch(/swizzle/);
    expect(sgmTiledConfigError({ ...SGM_TILED_DEFAULT, bk: 16 as 32 }, H100)).toMatch(/bk/);
    expect(sgmTiledConfigError({ ...SGM_TILED_DEFAULT, pad: 2 }, H100)).toMatch(/pad/);
    expect(sgmTiledConfigError({ ...SGM_TILED_DEFAULT, sgM: 0 }, H100)).toMatch(/positive/);
    // BK 32 with 8 subgroup columns: 256 vec4 of A for 512 invocations, half a vec4 each
    expect(sgmTiledConfigError({ sgM: 1, sgN: 8, bk: 32, pad: 4 }, H100)).toMatch(/vec4 per invocation/);
    // 4x4 subgroups = 512 invocations, 256x256 block at BK 64: 2 * 256 * 24 * 4 = 49152 B with pad 8 just fits 48 KiB
    expect(sgmTiledConfigError({ sgM: 4, sgN: 4, bk: 64, pad: 8 }, H100)).toBeNull();
    expect(sgmTiledConfigError({ sgM: 4, sgN: 4, bk: 64, pad: 12 }, { ...H100, maxComputeWorkgroupStorageSize: 1 << 20 })).toMatch(/exceeds 49152/);
    // WebGPU default limits: 256 invocations, 16 KiB
    expect(sgmTiledConfigError(SGM_TILED_DEFAULT)).toMatch(/storage 20480 B exceeds 16384/);
    expect(sgmTiledConfigError({ sgM: 2, sgN: 2, bk: 32, pad: 4 })).toBeNull();
    expect(sgmTiledConfigError({ sgM: 4, sgN: 4, bk: 32, pad: 0 })).toMatch(/512 invocations/);
    expect(sgmTiledConfigError(SGM_TILED_DEFAULT, { ...H100, subgroupMaxSize: 256 })).toMatch(/maxSubgroupSize/);
  });

  it('checks shapes and plans the grid and override constants', () => {
    expect(sgmTiledShapeError(SGM_TILED_DEFAULT, 256, 384, 192)).toBeNull();
    expect(sgmTiledShapeError(SGM_TILED_DEFAULT, 192, 128, 64)).toMatch(/M % 128/);
    expect(sgmTiledShapeError({ ...SGM_TILED_DEFAULT, bk: 64 }, 128, 128, 96)).toMatch(/K % 64/);
    expect(() => planGemmSubgroupMatrixTiled(128, 128, 96, SGM_TILED_DEFAULT, 4, H100)).toThrow(/K % 64/);
    expect(() => planGemmSubgroupMatrixTiled(128, 128, 128)).toThrow(/storage 20480 B/); // the default needs more than 16 KiB
    // swizzle omitted = on
    const d = planGemmSubgroupMatrixTiled(256, 512, 128, { sgM: 2, sgN: 4, bk: 64, pad: 4 }, 4, H100);
    expect(d.workgroups).toEqual([2, 2]); // (N / 256, M / 128)
    expect(d.kernel.constants).toEqual({ UNIT: 4, SG_M: 2, SG_N: 4, WG: 256, BK: 64, PAD: 4, SWZ: 1 });
    expect(planGemmSubgroupMatrixTiled(256, 512, 128, PLAIN, 1, H100).kernel.constants).toMatchObject({ UNIT: 1, BK: 64, SWZ: 0 });
    expect(sgmTiledLabel(SGM_TILED_DEFAULT)).toBe('tiled 128x128 sg2x2 bk64 pad4 swz');
    expect(sgmTiledLabel({ sgM: 2, sgN: 4, bk: 64, pad: 4 })).toBe('tiled 128x256 sg2x4 bk64 pad4 swz');
    expect(sgmTiledLabel(PLAIN)).toBe('tiled 128x128 sg2x2 bk64 pad4 plain');
    expect([...d.params]).toEqual([256, 512, 128, 0]);
  });

  it('passes only overrides the WGSL declares, and the shader agrees on MAXV and the derived sizes', () => {
    const decl = new Map([...tiledSrc.matchAll(/^override (\w+): u32 = ([^;]+);/gm)].map((m) => [m[1], m[2]]));
    const passed = Object.keys(planGemmSubgroupMatrixTiled(128, 128, 64, SGM_TILED_DEFAULT, 4, H100).kernel.constants!);
    for (const k of passed) expect(decl.has(k), k).toBe(true);
    // The names the host derives must be those the shader derives, with the same formulas.
    expect(decl.get('ROW')).toBe('BK / 4u + PAD');
    expect(decl.get('VA')).toBe('BM * BK / 16u / WG');
    expect(decl.get('A_WORDS')).toBe('BM * ROW');
    // The shader's default is the host's: rotated stores when swizzle is omitted; one A and one B tile.
    expect(decl.get('SWZ')).toBe('1u');
    expect(decl.has('STAGES')).toBe(false);
    expect(tiledSrc).toMatch(/var<workgroup> sa: array<i32, A_WORDS>;/);
    expect(tiledSrc).toMatch(/var<workgroup> sb: array<i32, B_WORDS>;/);
    expect(tiledSrc).toMatch(new RegExp(`const MAXV = ${SGM_TILED_MAXV}u;`));
    expect(tiledSrc).toMatch(/@workgroup_size\(WG\)/);
  });
});

// The tiled WGSL with its four subgroup-matrix builtins replaced by a per-lane emulation (lane l holds entries
// 8l..8l+7 of a 16x16 result; a loaded Left/Right is its byte offset and byte stride into sa/sb, read at
// multiply time, before the end-of-step barrier): checks the staging copies, offsets and strides of the real
// shader on the local adapter, exactly against referenceI8. The matrix builtins themselves run only on the GPU
// machine (bench/gemm-subgroup-matrix.ts). Every config tested fits lavapipe's 32 KiB of workgroup storage.
// emuCheck also compares every staged word with its source after the store barrier and poisons C on a mismatch:
// a product alone cannot see a store order that permutes k the same way in A and B (SWZ at BK 64 does exactly
// that when broken: chunk c of every row is stored by lanes with s = c).
function emulated(src: string): string {
  const subs: [RegExp | string, string][] = [
    ['enable chromium_experimental_subgroup_matrix;', ''],
    ['diagnostic(off, chromium.subgroup_matrix_uniformity);', ''],
    [/alias Left = [^;]+;/, 'alias Left = vec2<u32>;'],
    [/alias Right = [^;]+;/, 'alias Right = vec2<u32>;'],
    [/alias Acc = [^;]+;/, 'alias Acc = array<i32, 8>;'],
    [/subgroupMatrixLoad<Left, row_major>\(&sa, /g, 'emuLoad('],
    [/subgroupMatrixLoad<Right, col_major>\(&sb, /g, 'emuLoad('],
    [/subgroupMatrixMultiplyAccumulate\(/g, 'emuMma('],
    [/subgroupMatrixStore<row_major>\(&c, /g, 'emuStore('],
    [/(fn main\(.*\) \{)/, '$1\n  LANE = lid % 32u;'],
    [/(workgroupBarrier\(\);)(\s*if \(k0 \+ BK < p\.K\))/, '$1 emuCheck(m0, n0, k0);$2'],
  ];
  let out = src;
  for (const [from, to] of subs) {
    const next = out.replace(from, to);
    if (next === out) throw new Error(`emulation: ${String(from)} not found in the shader`);
    out = next;
  }
  return out + `
var<private> LANE: u32;
var<private> BAD: bool;
fn emuCheck(m0: u32, n0: u32, k0: u32) {
  let kv = p.K / 16u;
  for (var r = 0u; r < BM; r++) { for (var i = 0u; i < BK / 4u; i++) { BAD = BAD || sa[r * ROW + i] != a[(m0 + r) * kv + (k0 + 4u * i) / 16u][i % 4u]; } }
  for (var r = 0u; r < BN; r++) { for (var i = 0u; i < BK / 4u; i++) { BAD = BAD || sb[r * ROW + i] != b[(n0 + r) * kv + (k0 + 4u * i) / 16u][i % 4u]; } }
}
fn emuLoad(off: u32, stride: u32) -> vec2<u32> { return vec2<u32>(off * UNIT, stride * UNIT); }
fn i8a(byte: u32) -> i32 { return extractBits(sa[byte / 4u], (byte % 4u) * 8u, 8u); }
fn i8b(byte: u32) -> i32 { return extractBits(sb[byte / 4u], (byte % 4u) * 8u, 8u); }
fn emuMma(l: vec2<u32>, r: vec2<u32>, acc: array<i32, 8>) -> array<i32, 8> {
  var o = acc;
  for (var e = 0u; e < 8u; e++) {
    let row = (LANE * 8u + e) / 16u;
    let col = (LANE * 8u + e) % 16u;
    for (var k = 0u; k < 32u; k++) { o[e] += i8a(l.x + row * l.y + k) * i8b(r.x + col * r.y + k); }
  }
  return o;
}
fn emuStore(off: u32, acc: array<i32, 8>, stride: u32) {
  for (var e = 0u; e < 8u; e++) { c[off + ((LANE * 8u + e) / 16u) * stride + (LANE * 8u + e) % 16u] = select(acc[e], 0x7badbad0, BAD); }
}
`;
}

// One device for these tests, at the adapter's limits (the 256x128 configs need 30 KiB of workgroup storage); the
// GPU object stays referenced, since its collection tears Dawn's instance down.
let local: Promise<{ gpu: GPU; device: GPUDevice; limits: SgmTiledLimits }> | null = null;
function localDevice() {
  local ??= (async () => {
    Object.assign(globalThis, globals);
    const gpu = create([]) as unknown as GPU;
    const adapter = (await gpu.requestAdapter())!;
    const l = adapter.limits;
    const limits: SgmTiledLimits = { maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX };
    return { gpu, device: await adapter.requestDevice({ requiredLimits: { ...limits } }), limits };
  })();
  return local;
}

describe('gemm_subgroup_matrix_i8_tiled staging logic (builtins emulated per lane, local adapter)', () => {
  // Every config the bench times (SWZ 1 and 0, BK 32 and 64 (two k sub-steps), VA != VB, both grid orders), the
  // 64x64 one, PAD 0 with both store orders (ROW/4 even: rotation no longer conflict-free, still exact), BK 32
  // plain; K 256 = 4 or 8 K steps, so the tiles are overwritten several times. Lavapipe takes 15-30 s to compile
  // each emulated pipeline.
  const EMULATED: SgmTiledConfig[] = [...TILED, { sgM: 4, sgN: 2, bk: 64, pad: 0 }, { sgM: 4, sgN: 2, bk: 64, pad: 0, swizzle: false },
    { sgM: 2, sgN: 2, bk: 32, pad: 4, swizzle: false }];
  it.each(EMULATED.map((c) => [JSON.stringify(c), c] as const))('%s is exact at 256x256x256', async (_, cfg) => {
    const { device, limits } = await localDevice();
    expect(sgmTiledConfigError(cfg, H100)).toBeNull();
    expect(sgmTiledConfigError(cfg, limits)).toBeNull(); // fits the local adapter too
    const [M, N, K] = [256, 256, 256];
    const d = planGemmSubgroupMatrixTiled(M, N, K, cfg, 4, limits);
    let seed = 7;
    const rand = (n: number) => Int8Array.from({ length: n }, () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24) - 128);
    const a = rand(M * K); // [M, K]
    const b = rand(N * K); // [N, K]
    const buf = (data: ArrayBufferView, usage: number) => {
      const g = device.createBuffer({ size: data.byteLength, usage: usage | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(g, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
      return g;
    };
    const ub = buf(d.params, GPUBufferUsage.UNIFORM);
    const ab = buf(packI8(a), GPUBufferUsage.STORAGE);
    const bb = buf(packI8(b), GPUBufferUsage.STORAGE);
    const cb = buf(new Int32Array(M * N).fill(0x7eadbeef), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC); // [M, N] poisoned
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: emulated(d.kernel.code) });
    const msgs = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}: ${m.message}`);
    expect(msgs).toEqual([]);
    const pipe = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main', constants: d.kernel.constants } });
    const bufs = [ub, ab, bb, cb];
    const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: bufs.map((x, i) => ({ binding: i, resource: { buffer: x } })) });
    const rb = device.createBuffer({ size: M * N * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(...d.workgroups);
    pass.end();
    enc.copyBufferToBuffer(cb, 0, rb, 0, M * N * 4);
    device.queue.submit([enc.finish()]);
    expect(await device.popErrorScope()).toBeNull();
    await rb.mapAsync(GPUMapMode.READ);
    const got = new Int32Array(rb.getMappedRange().slice(0)); // [M, N]
    const want = referenceI8(a, b, M, N, K); // [M, N]
    let bad = 0;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) bad++;
    expect(bad).toBe(0);
    for (const x of [...bufs, rb]) x.destroy();
  });
});
