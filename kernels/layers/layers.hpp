/// @file layers.hpp
/// @brief Chapter 03's kernels: the row-wise layers on the emu and cuda backends.
///
/// The row-wise kernels (LayerNorm, masked softmax, softmax backward, cross-entropy) run
/// one block of 128 threads per row (grid-stride over the rows beyond the grid) and call
/// the very row functions the cpu implementation calls (03_layers/rows.hpp: the
/// exercises; kernels/layers/row_ops.hpp) with the block as their team
/// (kernels/layers/team.hpp): thread k handles elements k, k + 128, ..., and the row's sums
/// and maxima are the course's block reduction (common/block_reduce.cuh). So the three backends compute
/// the same formulas, but a block adds a row up in another order than the cpu's serial
/// loop: results agree to a few roundings (bounds in chapters/03_layers/tests/
/// test_kernels.cpp), and are deterministic (no atomics; the same bits on every run).
/// The elementwise kernels are one thread per element and equal the cpu bit for bit.
/// Pointers are device pointers (host memory under the emulator). Every function checks
/// its launch (a failure is a halfway::Error) and returns without waiting for the kernel:
/// the host waits where it reads a result, in the copy that brings it to the host. No
/// function allocates: scratch memory comes from the caller (layernorm_backward's workspace).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"

#define HALFWAY_LAYERS_KERNELS_FOR(S)                                                          \
  void layernorm_forward(const S* x, const S* gamma, const S* beta, S* y, float* mean,         \
                         float* rstd, int rows, int d, float eps);                             \
  void layernorm_backward(const S* x, const S* gamma, const float* mean, const float* rstd,    \
                          const S* dy, S* dx, float* dgamma, float* dbeta, int rows, int d,    \
                          float* workspace);                                                   \
  void softmax_backward(const S* y, const float* dy, S* ds, int rows, int n);                  \
  void masked_softmax_forward(const float* scores, S* p, int B, int H, int Lq, int Lk,         \
                              const std::uint8_t* key_pad, bool causal);                       \
  void cross_entropy(const S* logits, const std::int32_t* targets, int rows, int vocab,        \
                     int ignore_index, float smoothing, float row_scale, S* dlogits,           \
                     float* row_loss);                                                         \
  void cross_entropy_scaled(const S* logits, const std::int32_t* targets, int rows, int vocab, \
                            int ignore_index, float smoothing,                                 \
                            ::halfway::layers::DeviceLossScale scale, S* dlogits,              \
                            float* row_loss);                                                  \
  void dropout(S* v, std::int64_t n, float p, std::uint64_t seed);                            \
  void dropout_at(S* v, std::int64_t n, float p, const std::uint64_t* step_seed,               \
                  std::uint64_t tag);                                                          \
  void embedding_forward(const std::int32_t* tokens, int rows, int length, const S* table,     \
                         int d, const float* pe, S* y);                                        \
  void embedding_backward(const std::int32_t* tokens, int rows, const S* dy, int vocab, int d, \
                          float* dtable);                                                      \
  void bias_add(const float* acc, const S* bias, S* y, int rows, int d);                       \
  void column_sum(const S* dy, float* db, int rows, int d);                                    \
  void residual_add(const S* a, const S* b, S* out, std::int64_t n);                           \
  void relu_forward(const S* h, S* a, std::int64_t n);                                         \
  void relu_dropout_backward(const S* a, S* da, std::int64_t n, float scale);                  \
  void gelu_forward(const S* h, S* a, std::int64_t n);                                         \
  void gelu_backward(const S* h, S* da, std::int64_t n);

namespace halfway::layers {
/// The gradient scale of the trainer's loss, read on the device (so no step needs the loss
/// scale or the batch's row count on the host, and a replayed graph sees the current ones):
/// dlogits = row_scale * dLoss/dlogits with row_scale = float(double(*scale) * weight /
/// divisor) / *counted (0 with no counted row), the host's formula, operation for operation.
struct DeviceLossScale {
  const float* scale = nullptr;            ///< the loss scale's word (nullptr: 1)
  double weight = 1.0;                     ///< the loss weight (a host constant)
  int divisor = 1;                         ///< the micro-batches of a step (a host constant)
  const std::int32_t* counted = nullptr;   ///< the batch's counted rows (a device word)
};
/// The loss's gradient scale before the division by the counted rows.
HALFWAY_HD_INLINE float loss_gradient_scale(const float* scale, double weight, int divisor) {
  return float(double(scale ? *scale : 1.0f) * weight / divisor);
}
/// The scale of one counted row's gradient (0 when no row counts).
HALFWAY_HD_INLINE float row_gradient_scale(float scale, int counted) {
  return counted > 0 ? scale / float(counted) : 0.0f;
}

/// LayerNorm backward's blocks (at most): each sums its rows' dgamma/dbeta terms into its
/// own slice of the workspace, then the slices are added in block order (no atomics).
inline constexpr int kLayerNormGradBlocks = 512;
/// Floats of workspace layernorm_backward needs for `rows` rows of width d.
inline constexpr std::size_t layernorm_backward_workspace(int rows, int d) {
  return std::size_t(rows < kLayerNormGradBlocks ? (rows > 0 ? rows : 0) : kLayerNormGradBlocks) * 2 *
         std::size_t(d > 0 ? d : 0);
}
}  // namespace halfway::layers

/// layernorm_backward accumulates into dgamma and dbeta (+=) like the cpu version, through
/// `workspace`: layernorm_backward_workspace(rows, d) floats of device memory, any contents
/// (the kernel zeroes what it uses);
/// cross_entropy writes each row's loss (0 for ignored rows) and scale * (p - q) per row;
/// embedding_backward and column_sum accumulate (+=) in fp32, deterministically: one
/// thread per output element sums its rows in order (no atomics; for the embedding one
/// thread per (token id, feature) scans the tokens, cheap for the seed's 13-token vocabulary);
/// bias_add rounds the GEMM's fp32 result plus the bias once; relu_forward is torch.relu's
/// "h < 0 ? 0 : h" (NaN goes on) and relu_dropout_backward "a <= 0 ? 0 : da * scale" (see
/// relu_range and FeedForward::backward in modules.hpp).
/// dropout_at is dropout with the seed derive_seed(*step_seed, tag), derived on the device;
/// cross_entropy_scaled is cross_entropy with the row scale of `scale` (DeviceLossScale);
/// loss_mean_add adds the mean of row_loss over the *counted rows, divided by `divisor`,
/// into *sum: one thread, the rows in order (the sum the host made before, same bits).
HALFWAY_KERNEL_API(
  void loss_mean_add(const float* row_loss, int rows, const std::int32_t* counted, int divisor, float* sum);
  HALFWAY_LAYERS_KERNELS_FOR(float)
  HALFWAY_LAYERS_KERNELS_FOR(::halfway::half)
  HALFWAY_LAYERS_KERNELS_FOR(::halfway::bfloat16)
)
