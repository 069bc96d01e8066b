// Int8 GEMM on subgroup matrices (tensor cores through VK_KHR_cooperative_matrix): C[M,N] (i32) = A[M,K] (i8) *
// B[N,K]^T (i8), exact integer products. Needs the device feature chromium-experimental-subgroup-matrix (Dawn:
// toggle allow_unsafe_apis) with a config {componentType i8, resultComponentType i32, M 16, N 16, K 32}: the
// only kinds the H100 adapter offers (u8/i8, N 16 or 8; no f16 or f32, since it has no shader-f16).
//
// Bindings: 0 uniform Params {M, N, K, _pad}
//           1 a: array<i32>  [M, K] i8, 4 per word, little-endian (byte k%4 of word (m*K + k)/4)
//           2 b: array<i32>  [N, K] i8 (the weight layout), same packing
//           3 c: array<i32>  [M, N] (written)
// Dispatch: (N / 64, M / 64) workgroups of 32 invocations: one subgroup per workgroup owns a 64x64 block of C
// as 4x4 result matrices, so every offset derives from workgroup_id (subgroup-uniform, as the builtins need;
// the x size 32 is H100's maxSubgroupSize, a multiple of it being required). Aligned shapes: M % 64, N % 64,
// K % 32 (host-checked). Each K step of 32 loads 4 left and 4 right matrices straight from storage (L1/L2:
// no shared-memory staging in this first version) and issues 16 multiply-accumulates.
// UNIT: i8 elements per unit of the load offset and stride. The proposal changed it from matrix elements
// (UNIT 1) to elements of the pointed-to array (i32 words: UNIT 4); the bench validates both and keeps the
// one that matches the CPU reference.
enable chromium_experimental_subgroup_matrix;

override UNIT: u32 = 4u;

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<i32>;
@group(0) @binding(2) var<storage, read> b: array<i32>;
@group(0) @binding(3) var<storage, read_write> c: array<i32>;

alias Left = subgroup_matrix_left<i8, 32, 16>; // 16 rows x 32 k of A
alias Right = subgroup_matrix_right<i8, 16, 32>; // 32 k x 16 columns of B^T (column-major = B's rows)
alias Acc = subgroup_matrix_result<i32, 16, 16>; // 16 x 16 of C

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wg: vec3<u32>) {
  let m0 = wg.y * 64u;
  let n0 = wg.x * 64u;
  let stride = p.K / UNIT; // A and B rows, in load units
  var c00 = Acc(); var c01 = Acc(); var c02 = Acc(); var c03 = Acc();
  var c10 = Acc(); var c11 = Acc(); var c12 = Acc(); var c13 = Acc();
  var c20 = Acc(); var c21 = Acc(); var c22 = Acc(); var c23 = Acc();
  var c30 = Acc(); var c31 = Acc(); var c32 = Acc(); var c33 = Acc();
  for (var k0 = 0u; k0 < p.K; k0 += 32u) {
    let a0 = subgroupMatrixLoad<Left, row_major>(&a, ((m0 + 0u) * p.K + k0) / UNIT, stride);
    let a1 = subgroupMatrixLoad<Left, row_major>(&a, ((m0 + 16u) * p.K + k0) / UNIT, stride);
    let a2 = subgroupMatrixLoad<Left, row_major>(&a, ((m0 + 32u) * p.K + k0) / UNIT, stride);
    let a3 = subgroupMatrixLoad<Left, row_major>(&a, ((m0 + 48u) * p.K + k0) / UNIT, stride);
    let b0 = subgroupMatrixLoad<Right, col_major>(&b, ((n0 + 0u) * p.K + k0) / UNIT, stride);
    let b1 = subgroupMatrixLoad<Right, col_major>(&b, ((n0 + 16u) * p.K + k0) / UNIT, stride);
    let b2 = subgroupMatrixLoad<Right, col_major>(&b, ((n0 + 32u) * p.K + k0) / UNIT, stride);
    let b3 = subgroupMatrixLoad<Right, col_major>(&b, ((n0 + 48u) * p.K + k0) / UNIT, stride);
    c00 = subgroupMatrixMultiplyAccumulate(a0, b0, c00); c01 = subgroupMatrixMultiplyAccumulate(a0, b1, c01); c02 = subgroupMatrixMultiplyAccumulate(a0, b2, c02); c03 = subgroupMatrixMultiplyAccumulate(a0, b3, c03);
    c10 = subgroupMatrixMultiplyAccumulate(a1, b0, c10); c11 = subgroupMatrixMultiplyAccumulate(a1, b1, c11); c12 = subgroupMatrixMultiplyAccumulate(a1, b2, c12); c13 = subgroupMatrixMultiplyAccumulate(a1, b3, c13);
    c20 = subgroupMatrixMultiplyAccumulate(a2, b0, c20); c21 = subgroupMatrixMultiplyAccumulate(a2, b1, c21); c22 = subgroupMatrixMultiplyAccumulate(a2, b2, c22); c23 = subgroupMatrixMultiplyAccumulate(a2, b3, c23);
    c30 = subgroupMatrixMultiplyAccumulate(a3, b0, c30); c31 = subgroupMatrixMultiplyAccumulate(a3, b1, c31); c32 = subgroupMatrixMultiplyAccumulate(a3, b2, c32); c33 = subgroupMatrixMultiplyAccumulate(a3, b3, c33);
  }
  subgroupMatrixStore<row_major>(&c, (m0 + 0u) * p.N + n0 + 0u, c00, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 0u) * p.N + n0 + 16u, c01, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 0u) * p.N + n0 + 32u, c02, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 0u) * p.N + n0 + 48u, c03, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 16u) * p.N + n0 + 0u, c10, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 16u) * p.N + n0 + 16u, c11, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 16u) * p.N + n0 + 32u, c12, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 16u) * p.N + n0 + 48u, c13, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 32u) * p.N + n0 + 0u, c20, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 32u) * p.N + n0 + 16u, c21, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 32u) * p.N + n0 + 32u, c22, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 32u) * p.N + n0 + 48u, c23, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 48u) * p.N + n0 + 0u, c30, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 48u) * p.N + n0 + 16u, c31, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 48u) * p.N + n0 + 32u, c32, p.N);
  subgroupMatrixStore<row_major>(&c, (m0 + 48u) * p.N + n0 + 48u, c33, p.N);
}
