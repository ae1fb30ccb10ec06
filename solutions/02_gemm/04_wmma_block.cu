// Kernel 4 of the GEMM ladder: WMMA with block tiling through shared memory.
//
// What it adds over kernel 3: reuse at two levels.
// - Block level: 8 warps share one 128x128 tile of C. Per k-step of 32 the block copies a
//   128x32 tile of op(A) and a 32x128 tile of op(B) into shared memory, with 128-bit
//   (8-element) global loads, and every element copied is used by 4 or 2 warps.
// - Warp level: each warp owns a 64x32 piece of that tile, 4x2 accumulator fragments.
//   Per 16-wide k-slice it loads 4 A fragments and 2 B fragments and issues 4x2 = 8
//   mma_sync: each fragment feeds 2 or 4 tensor-core operations instead of 1. That loop
//   is exercise 02.2, warp_tile_mma in 04_warp_tile.cuh (kernel 5 calls it as well).
//
// Math: global traffic per k-step is (128 + 128) x 32 x 2 bytes = 16 KiB for
// 2 x 128 x 128 x 32 flops = 1 Mflop: 64 flop/byte, 8x kernel 3. Shared-memory traffic
// per warp and k-slice is 6 fragments (3 KiB) for 8 mma (64 Kflop).
//
// Tiling (BM = BN = 128, BK = 32; warps 2 (rows) x 4 (columns), 64x32 each):
//
//                     +--------- 128 ---------+
//          op(B) tile |  32 x 128 in smem     |
//                     +-----+-----+-----+-----+
//    +----+           | w0  | w1  | w2  | w3  |  each warp: 64 x 32 of C
//    |    |           | 4x2 |     |     |     |  = 4 x 2 fragments of 16x16
//    |128 |           +-----+-----+-----+-----+
//    | x32|           | w4  | w5  | w6  | w7  |
//    |    |           |     |     |     |     |
//    +----+           +-----+-----+-----+-----+
//  op(A) tile
//
// Shared-memory rows are padded by 8 elements (TileGeometry): without it, the 8 rows
// of 64 bytes that a fragment load reads together would hit the same banks
// (row stride 64 or 256 bytes), an up-to-8-way conflict; with a stride of 80 or 272
// bytes they fall into 8 different 16-byte groups of the 128-byte bank line.
//
// Edges: load_tile zero-fills outside the matrix and falls back to element loads where a
// row is not 16-byte aligned, so any M, N, K, leading dimension and base pointer work.
#include "02_gemm/04_warp_tile.cuh"  // exercise 02.2: the warp tile (kernel 5 runs it too)
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace {

using namespace block_tile;  // the tiles drawn above and exercise 02.2's warp_tile_mma

template <class T, bool TA, bool TB>
__global__ void __launch_bounds__(kThreads) gemm_wmma_block_kernel(const GemmArgs g) {
  using G = TileGeometry<kBM, kBN, kBK, TA, TB>;
  __shared__ __align__(128) T as[G::kAElems];
  __shared__ __align__(128) T bs[G::kBElems];
  __shared__ __align__(32) float c_stage[kWarpsM * kWarpsN][kScratchFloats];

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int warp_m = warp / kWarpsN, warp_n = warp % kWarpsN;
  const int z = blockIdx.z, m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const BlockOperands<T> op = block_operands<T>(g, z);

  FragC acc[kFM][kFN];
  zero_fragments(acc);

  for (int k0 = 0; k0 < g.k; k0 += kBK) {
    load_block_tiles<G, kThreads, false>(as, bs, op, g, m0, n0, k0, tid);
    __syncthreads();  // the tiles are complete
    warp_tile_mma<T, TA, TB>(as, bs, warp_m, warp_n, acc);
    __syncthreads();  // everyone is done with them before they are overwritten
  }

  store_warp_tile_checked<T>(g, z, acc, c_stage[warp], m0 + warp_m * kWM, n0 + warp_n * kWN, lane);
}

/// Launches the instance for <T, TA, TB> (see with_instance).
struct Launcher {
  const GemmArgs& g;
  dim3 grid;
  cudaStream_t stream;
  template <class T, bool TA, bool TB>
  void operator()() const {
    auto* kernel = &gemm_wmma_block_kernel<T, TA, TB>;
    HALFWAY_LAUNCH(kernel, grid, kThreads, 0, stream)(g);
  }
};

}  // namespace

void launch_wmma_block(const GemmArgs& g, cudaStream_t stream) {
  const dim3 grid(ceil_div(g.n, kBN), ceil_div(g.m, kBM), unsigned(g.batch));
  with_instance(g, Launcher{g, grid, stream});
  check_launch("4 (wmma_block)");
}

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl
