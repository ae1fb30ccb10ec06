// Unscale-and-check on the device (API: unscale.hpp): one launch over a whole gradient
// buffer, fp32 or 16-bit.
//
// The math: g[i] <- g[i] * inv_scale (fp32 multiply, one rounding back to G for 16-bit
// gradients; for a power-of-two scale the multiply is exact unless the result leaves the
// normal range), found_inf <- OR_i (g[i] is inf or NaN), g read before the multiply.
//
// The mapping (exercise 04.2 writes one block's part, solutions/04_loss_scaling/
// unscale_block.cuh):
//
//   grid of G blocks x 256 threads, grid-stride:     element i -> thread i mod (256 G)
//   | block 0: 0..255 | block 1: 256..511 | ... | block G-1 | block 0 again: 256 G ... |
//   per block: flags of 256 threads --block_max--> 1 flag --(thread 0, if set)--> atomicOr(*flag)
//
// Consecutive threads touch consecutive elements (coalesced); G = grid_blocks(n, 256) is
// capped (common/grid.hpp) so that large buffers loop instead of launching millions of
// blocks; the global flag is written at most once per block.
#include <algorithm>

#include "common/device.cuh"
#include "common/grid.hpp"
#include "04_loss_scaling/unscale_block.cuh"
#include "kernels/amp/unscale.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;

template <class G>
__global__ void unscale_kernel(G* g, std::int64_t n, float inv_scale, unsigned* flag) {
  __shared__ unsigned scratch[kBlockReduceSlots];
  unscale_block(g, n, inv_scale, flag, scratch);
}

template <class G>
void launch(G* g, std::int64_t n, float inv_scale, unsigned* flag) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(unscale_kernel<G>, grid_blocks(n, kThreads), kThreads, 0, 0)(g, n, inv_scale, flag);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void unscale_and_check(float* g, std::int64_t n, float inv_scale, unsigned* flag) { launch(g, n, inv_scale, flag); }
void unscale_and_check(half* g, std::int64_t n, float inv_scale, unsigned* flag) { launch(g, n, inv_scale, flag); }
void unscale_and_check(bfloat16* g, std::int64_t n, float inv_scale, unsigned* flag) {
  launch(g, n, inv_scale, flag);
}

}  // namespace halfway::HALFWAY_KERNEL_NS
