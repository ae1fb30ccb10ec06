// Kernel 2 of the GEMM ladder: shared-memory tiling (SIMT, no tensor cores yet).
//
// What it adds over kernel 1: the block first copies a 16x16 tile of op(A) and one of
// op(B) into shared memory, once, then every thread of the block reads them from there.
// Each input element loaded from global memory now serves 16 threads instead of one.
//
// Math: per k-step a block loads 2 * 16 * 16 elements (1 KiB in fp16) and does
// 2 * 16^3 flops: arithmetic intensity rises from 0.5 to 8 flop/byte of global traffic
// (tile T gives T/2 flop/byte for fp16). Shared memory is ~30x faster than HBM, so the
// loop is now bound by shared-memory bandwidth and the FMA pipes, not by DRAM.
//
// Tiling (one block, 16x16 threads; the k loop slides the two tiles along K):
//
//                        k0 ->  +----+
//                               | Bs |  16 x 16 tile of op(B)
//                               +----+
//      +----+----+----+         +----+
//   i0 | As | -> k0 ... |       | C  |  each thread (ty, tx):
//      +----+----+----+         +----+  acc += As[ty][p] * Bs[p][tx], p = 0..15
//
// The two __syncthreads() are the whole lesson: the first waits until the tiles are
// complete before anyone reads them, the second until everyone has read them before
// the next iteration overwrites them. Out-of-range elements are stored as 0, so any
// M, N, K works and the edge blocks need no special case in the inner loop.
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace {

constexpr int kTile = 16;

template <class T>
__global__ void __launch_bounds__(kTile * kTile) gemm_smem_tiled_kernel(const GemmArgs g) {
  // BEGIN EXERCISE 02.1 (3 points): The shared-memory tiled GEMM kernel
  // HINT: thread (threadIdx.y, threadIdx.x) of block (blockIdx.y, blockIdx.x) owns
  // HINT: C[i][j], i = blockIdx.y * kTile + threadIdx.y, j = blockIdx.x * kTile + threadIdx.x;
  // HINT: blockIdx.z is the batch entry: entry<T>(g.a, g.stride_a, z) is its A.
  // HINT: declare two __shared__ float tiles of kTile x kTile; for each k0 (step kTile)
  // HINT: every thread loads one element of each (a_at(g, a, i, k0 + threadIdx.x) and
  // HINT: b_at(g, b, k0 + threadIdx.y, j), or 0 outside M, N, K), __syncthreads(),
  // HINT: accumulates kTile products, __syncthreads() again. Finish with store_c<T>(...),
  // HINT: which checks the bounds. No thread may return before the last barrier.
  const int z = blockIdx.z;
  const int ty = threadIdx.y, tx = threadIdx.x;
  const int i = blockIdx.y * kTile + ty;
  const int j = blockIdx.x * kTile + tx;
  const T* a = entry<T>(g.a, g.stride_a, z);
  const T* b = entry<T>(g.b, g.stride_b, z);

  __shared__ float as[kTile][kTile];
  __shared__ float bs[kTile][kTile];
  float acc = 0.0f;
  for (int k0 = 0; k0 < g.k; k0 += kTile) {
    as[ty][tx] = (i < g.m && k0 + tx < g.k) ? a_at(g, a, i, k0 + tx) : 0.0f;
    bs[ty][tx] = (k0 + ty < g.k && j < g.n) ? b_at(g, b, k0 + ty, j) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int p = 0; p < kTile; ++p) acc += as[ty][p] * bs[p][tx];
    __syncthreads();
  }
  store_c<T>(g, z, i, j, acc);
  // END EXERCISE 02.1
}

}  // namespace

void launch_smem_tiled(const GemmArgs& g, cudaStream_t stream) {
  const dim3 grid(ceil_div(g.n, kTile), ceil_div(g.m, kTile), unsigned(g.batch));
  const dim3 block(kTile, kTile);
  if (g.in == DType::f16)
    HALFWAY_LAUNCH(gemm_smem_tiled_kernel<__half>, grid, block, 0, stream)(g);
  else
    HALFWAY_LAUNCH(gemm_smem_tiled_kernel<__nv_bfloat16>, grid, block, 0, stream)(g);
  check_launch("2 (smem_tiled)");
}

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl
