/// @file grad_norm.hpp
/// @brief The global L2 norm of a flat gradient buffer, bit-identical on every run
/// (chapter 06).
///
/// The math: ||g|| = sqrt(sum_i g_i^2) over the whole buffer (fp32, fp16 or bf16
/// gradients), computed with squares and sums in double, then one sqrt in double and one
/// rounding to float:
///
/// - no overflow and no underflow: a float squared is exact in double (24 + 24 significant
///   bits <= 53) and lies in [2e-90, 1.2e77]; a sum of up to 2^63 of them stays below
///   1e97. Gradients of 1e20 give 1e20 * sqrt(n), where fp32 squares would overflow at
///   1.8e19 (PyTorch's fp32 norm does). Scaling (LAPACK's dnrm2: divide by the running
///   maximum) would also avoid it, but costs a division per element or a second pass,
///   and its result depends on where the maximum sits; double keeps one pass, one FMA per
///   element, exact squares. It costs little: the pass is memory-bound (one DFMA per 2 or
///   4 bytes read), even on GPUs with 1/64-rate fp64.
/// - error: every term is exact and non-negative, so the n - 1 additions give a relative
///   error <= (n - 1) 2^-53 (about 3e-10 for n = 2.5M); the sqrt halves it and the float
///   rounding adds 2^-24. The result is the true norm within 2^-24 + n 2^-54 relative.
/// - a non-finite gradient gives a non-finite norm: inf^2 = inf, NaN propagates, and no
///   term is negative, so inf - inf never turns an inf into a NaN or a finite value.
///
/// The mapping (kernels/optim/grad_norm.cu; the block part is exercise 06.1,
/// solutions/06_clipping_warmup/sum_squares_block.cuh):
///
///   launch 1: B = min(ceil(n / 256), 1024) blocks x 256 threads, grid-stride
///     | block 0: g0..g255 | block 1: g256..g511 | ... | block B-1 | block 0 again ... |
///     thread: s += double(g)^2 in index order; block: block_sum (warp butterflies, then
///     the warp totals left to right) -> partials[b]            (B doubles, device memory)
///   launch 2: 1 block x 256 threads over partials[0..B): the same walk without squaring,
///     block_sum -> thread 0 writes float(sqrt(total))            (one float, device memory)
///
/// B depends on n alone and nothing is atomic, so the bits are the same in every run, on
/// every GPU and under every emulator thread order. The second pass is a launch, not a
/// host loop: the host reads one float, never the partials.
///
/// The cpu backend runs the very same order on the host (norm_order_host.hpp): 256 * B
/// per-thread sums, the butterfly and the left-to-right warp combination, twice. So cpu,
/// emu and cuda give the same bits (the squares are exact, so a fused multiply-add
/// cannot change them either).
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/device_memory.hpp"
#include "common/grid.hpp"
#include "common/hd.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/fp16/half.hpp"

namespace halfway::optim {

using amp::GradBuffer;

/// The shape of the two passes (shared by the kernels and the host's copy of their order).
constexpr int kNormThreads = 256;  ///< threads per block, both passes
constexpr int kNormMaxBlocks = int(kMaxGridThreads / kNormThreads);  ///< blocks of pass 1 at most (1024)
/// The number of blocks of pass 1 for n gradients (the launch rule of common/grid.hpp: at
/// most 1024, large buffers loop): depends on n only, and fixes the order of the sum.
constexpr int norm_blocks(std::int64_t n) { return n <= 0 ? 0 : int(grid_blocks(n, kNormThreads)); }

/// Device memory the norm needs, allocated on first use and reused: the partials and the
/// result. One per gradient buffer user (a trainer keeps one).
struct NormWorkspace {
  Buf<double> partials;
  Buf<float> norm;
};

/// ||g||_2 of the whole buffer, on its backend. One float crosses to the host.
float global_norm(const GradBuffer& grads, NormWorkspace& ws);

namespace detail {
/// Launches the two passes on emu or cuda, leaving the norm in ws.norm (device memory);
/// does not wait. n > 0.
void launch_global_norm(const GradBuffer& grads, NormWorkspace& ws);
/// The host's copy of the kernels' order (the cpu backend).
float global_norm_host(const GradBuffer& grads);
}  // namespace detail

}  // namespace halfway::optim

/// The kernels behind it (grad_norm.cu); each returns after its launch, without waiting.
HALFWAY_KERNEL_API(
  void grad_norm_partials(const float* g, std::int64_t n, double* partials);
  void grad_norm_partials(const ::halfway::half* g, std::int64_t n, double* partials);
  void grad_norm_partials(const ::halfway::bfloat16* g, std::int64_t n, double* partials);
  void grad_norm_combine(const double* partials, int count, float* norm);
)
