/// @file 04_warp_tile.cuh
/// @brief Exercise 02.2: the warp-tile main loop of kernel 4 (04_wmma_block.cu draws the
/// tiles). Kernel 5 (kernels/gemm/05_wmma_pipeline.cu) runs the same warp tile on the
/// stages of its cp.async pipeline, so this one function is the tensor-core work of both.
///
/// The block tile is 128 x 128 with a k-step of 32, shared by 8 warps (2 rows x 4
/// columns); each warp owns 64 x 32 of C, 4 x 2 accumulator fragments of 16 x 16.
#pragma once

#include "common/exercise.hpp"
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl::block_tile {

constexpr int kBM = 128, kBN = 128, kBK = 32;
constexpr int kWarpsM = 2, kWarpsN = 4, kThreads = 32 * kWarpsM * kWarpsN;
constexpr int kWM = kBM / kWarpsM, kWN = kBN / kWarpsN;  // 64 x 32 per warp
constexpr int kFM = kWM / 16, kFN = kWN / 16;            // 4 x 2 fragments

/// One warp's share of a k-step: acc[i][j] += op(A)[warp rows, 0:kBK] * op(B)[0:kBK, warp cols],
/// from the A tile `as` and the B tile `bs` in shared memory (TileGeometry<kBM, kBN, kBK, TA, TB>).
template <class T, bool TA, bool TB>
__device__ __forceinline__ void warp_tile_mma(const T* as, const T* bs, int warp_m, int warp_n,
                                              FragC (&acc)[kFM][kFN]) {
  // BEGIN EXERCISE 02.2 (4 points): The WMMA warp-tile main loop of kernel 4
  // HINT: G = TileGeometry<kBM, kBN, kBK, TA, TB> describes the tiles in shared memory.
  // HINT: the warp's C piece starts at row warp_m * kWM, column warp_n * kWN of the tile.
  // HINT: for each 16-wide slice kk of the kBK columns: load kFM fragments of op(A) and
  // HINT: kFN of op(B) from shared memory, then do kFM x kFN wmma::mma_sync.
  // HINT: element (m, k) of the A tile is at at_layout<TA>(as, G::kLdA, m, k), element
  // HINT: (k, n) of the B tile at at_layout<TB>(bs, G::kLdB, k, n); pass G::kLdA or
  // HINT: G::kLdB as ldm. FragA<T, TA> and FragB<T, TB> already have the right layouts.
  using G = TileGeometry<kBM, kBN, kBK, TA, TB>;
#pragma unroll
  for (int kk = 0; kk < kBK; kk += 16) {
    FragA<T, TA> fa[kFM];
    FragB<T, TB> fb[kFN];
#pragma unroll
    for (int i = 0; i < kFM; ++i)
      wmma::load_matrix_sync(fa[i], at_layout<TA>(as, G::kLdA, warp_m * kWM + i * 16, kk), G::kLdA);
#pragma unroll
    for (int j = 0; j < kFN; ++j)
      wmma::load_matrix_sync(fb[j], at_layout<TB>(bs, G::kLdB, kk, warp_n * kWN + j * 16), G::kLdB);
#pragma unroll
    for (int i = 0; i < kFM; ++i)
#pragma unroll
      for (int j = 0; j < kFN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
  }
  // END EXERCISE 02.2
}

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl::block_tile
