// Kernel 1 of the GEMM ladder: naive SIMT, one thread per element of C.
//
// What it adds: nothing yet; it is the baseline every other rung is measured against.
//
// Math: thread (i, j) computes C[i][j] = alpha * sum_p op(A)[i][p] * op(B)[p][j] + beta * C[i][j],
// reading 2K inputs from global memory for 2K flops: an arithmetic intensity of
// 1 flop per 2-byte load = 0.5 flop/byte. An H200 streams ~4.8 TB/s from HBM: if every
// operand came from there, this loop could not beat ~2.4 TFLOP/s, against ~990 TFLOP/s of
// fp16 tensor-core peak. (L1 and L2 help: neighbouring threads read the same A row.)
//
// Tiling: none. Blocks of 16x16 threads cover 16x16 pieces of C; threadIdx.x runs along
// a row of C, so the 16 threads of a half-warp read 16 consecutive elements of B (one
// coalesced transaction when op_b is N) and one shared element of A (a broadcast).
//
//        B (K x N)
//          j ->
//   A     +----+----+          every thread walks its own row of A and
//  (MxK)  |    |    |          column of B, all K of them, on its own:
//  i  ----+----X----+ <- C[i][j]  X = sum over p of A[i][p] * B[p][j]
//  v      |    |    |
//         +----+----+
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace {

constexpr int kTile = 16;

template <class T>
__global__ void __launch_bounds__(kTile * kTile) gemm_naive_kernel(const GemmArgs g) {
  const int z = blockIdx.z;
  const int i = blockIdx.y * kTile + threadIdx.y;
  const int j = blockIdx.x * kTile + threadIdx.x;
  if (i >= g.m || j >= g.n) return;  // no barrier in this kernel: an early return is safe
  const T* a = entry<T>(g.a, g.stride_a, z);
  const T* b = entry<T>(g.b, g.stride_b, z);
  float acc = 0.0f;
  for (int p = 0; p < g.k; ++p) acc += a_at(g, a, i, p) * b_at(g, b, p, j);
  store_c<T>(g, z, i, j, acc);
}

}  // namespace

void launch_naive(const GemmArgs& g, cudaStream_t stream) {
  const dim3 grid(ceil_div(g.n, kTile), ceil_div(g.m, kTile), unsigned(g.batch));
  const dim3 block(kTile, kTile);
  if (g.in == DType::f16)
    HALFWAY_LAUNCH(gemm_naive_kernel<__half>, grid, block, 0, stream)(g);
  else
    HALFWAY_LAUNCH(gemm_naive_kernel<__nv_bfloat16>, grid, block, 0, stream)(g);
  check_launch("1 (naive)");
}

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl
