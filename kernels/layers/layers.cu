// Chapter 03's kernels (API and contract: layers.hpp). The row-wise layers run ONE BLOCK
// PER ROW and call the very row functions the cpu implementation calls
// (03_layers/rows.hpp, kernels/layers/row_ops.hpp), with the block as their team
// (kernels/layers/team.hpp); the elementwise ones are one thread per element.
//
// The math. Every row layer is a few passes over a row of n values with a reduction in
// between: LayerNorm forward needs sum x_i, then sum (x_i - mean)^2; its backward sum g_i
// and sum g_i xhat_i; the softmax's backward sum y_j dy_j; the masked softmax and the
// cross-entropy max_j z_j, then sum_j exp(z_j - m). A pass is independent per element; a
// reduction is what makes it a row problem.
//
// The picture, for one row of n = 300 values and a block of 128 threads (4 warps):
//
//   row r  ------------------------------------------------------------>  block r
//   element:  0   1 ... 127 | 128 129 ... 255 | 256 ... 299
//   thread:   0   1 ... 127 |  0   1  ... 127 |  0  ...  43       i = rank, rank+128, ...
//
// Reduction (BlockTeam::sum and max): each thread first combines its own elements (at
// most ceil(n / 128) of them, in order), then the block combines the threads' values with
// the course's one block reduction (common/block_reduce.cuh: a warp butterfly, then the 4
// warp totals in order; its header has the picture). So the sum's order differs from the
// cpu's serial loop: the kernels agree with the cpu to a rounding bound, not bit for bit
// (tests/test_kernels.cpp derives it), but the order is fixed by n and the block size
// alone, so every run and every GPU gives the same bits.
//
// Block size 128 = 4 warps: the course model's rows are d_model = 128 features (one per
// thread for LayerNorm), short attention rows (Lk = sequence length) and a small
// vocabulary, so a bigger block would mostly idle; 4 warps keep the block reduction to 4
// partials, and at 128 threads an SM holds 16 blocks (2048 threads) on sm_80/sm_90, so
// occupancy is full. Rows beyond the grid's size are looped over grid-stride.
//
// LayerNorm's dgamma/dbeta sum over rows: with a block per row the rows of a block run one
// after another, and element i of every row is owned by thread i % 128, so each BLOCK
// gets its own fp32 slice of a scratch buffer (2 d values), accumulated with plain +=;
// a fixed grid of at most kLayerNormGradBlocks blocks loops over the rows, then
// column_sums_kernel adds the slices in block order. Deterministic, no atomics. The slices
// are the caller's workspace (layernorm_backward_workspace floats, in layers.hpp): the
// kernel zeroes its own slice first, so nothing is allocated or cleared per call.
//
// No wrapper waits for its kernel: each checks its launch (cudaGetLastError) and returns.
// The host waits where it reads a result, in the copy that brings it back.
#include <algorithm>

#include "common/block_reduce.cuh"
#include "common/device.cuh"
#include "common/grid.hpp"
#include "03_layers/rows.hpp"
#include "kernels/layers/layers.hpp"
#include "kernels/layers/row_ops.hpp"
#include "kernels/layers/team.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

using ::halfway::layers::LayerNormRow;
using ::halfway::layers::Pass;

constexpr int kThreads = 128;          // threads per block, row kernels and elementwise ones
static_assert(kThreads % 32 == 0 && kThreads <= 32 * kBlockReduceSlots, "BlockTeam needs whole warps");

unsigned blocks_for(std::int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }
// Row kernels: a block per row, kThreads threads each, grid-stride over rows beyond the cap.
unsigned row_blocks(std::int64_t rows) { return grid_blocks(rows * kThreads, kThreads); }

// After every launch: a bad launch is an Error here; the kernel runs on without a wait.
void finish() { HALFWAY_CUDA_CHECK(cudaGetLastError()); }

// The thread block as a team (team.hpp): rank threadIdx.x, size blockDim.x, which must be
// a multiple of 32 (whole warps; the kernels launch kThreads). `scratch` is the kernel's
// __shared__ float[kBlockReduceSlots]. sum/max are the block reduction of
// common/block_reduce.cuh: the same bits to every thread; every thread must call.
struct BlockTeam {
  int rank;
  int size;
  float* scratch;

  __device__ explicit BlockTeam(float* shared_scratch)
      : rank(int(threadIdx.x)), size(int(blockDim.x)), scratch(shared_scratch) {}

  __device__ float sum(float v) const { return block_sum(v, scratch); }
  __device__ float max(float v) const { return block_max(v, scratch); }
};

template <class S>
__global__ void layernorm_forward_kernel(const S* x, const S* gamma, const S* beta, S* y, float* mean,
                                         float* rstd, int rows, int d, float eps) {
  __shared__ float scratch[kBlockReduceSlots];
  const BlockTeam team(scratch);
  for (int r = int(blockIdx.x); r < rows; r += int(gridDim.x)) {
    LayerNormRow<S> row;
    row.n = d;
    row.eps = eps;
    row.x = x + std::int64_t(r) * d;
    row.gamma = gamma;
    row.beta = beta;
    row.y = y + std::int64_t(r) * d;
    row.mean = mean + r;
    row.rstd = rstd + r;
    ::halfway::layers::layernorm_row<S>(Pass::forward, row, team);
  }
}

// dx per row; block b zeroes its own slice of `partial` (2 d floats per block), then adds
// its rows' dgamma/dbeta terms to it, element i always by thread i % blockDim.x, so no two
// threads ever add to the same address; column_sums_kernel then adds the slices in order.
template <class S>
__global__ void layernorm_backward_kernel(const S* x, const S* gamma, const float* mean, const float* rstd,
                                          const S* dy, S* dx, float* partial, int rows, int d) {
  __shared__ float scratch[kBlockReduceSlots];
  const BlockTeam team(scratch);
  float* slice = partial + std::int64_t(blockIdx.x) * 2 * d;
  for (int c = int(threadIdx.x); c < 2 * d; c += int(blockDim.x)) slice[c] = 0.0f;
  __syncthreads();  // the whole slice is zero before any row adds to it
  for (int r = int(blockIdx.x); r < rows; r += int(gridDim.x)) {
    LayerNormRow<S> row;
    row.n = d;
    row.x = x + std::int64_t(r) * d;
    row.gamma = gamma;
    row.mean = const_cast<float*>(mean + r);
    row.rstd = const_cast<float*>(rstd + r);
    row.dy = dy + std::int64_t(r) * d;
    row.dx = dx + std::int64_t(r) * d;
    row.dgamma = slice;
    row.dbeta = slice + d;
    ::halfway::layers::layernorm_row<S>(Pass::backward, row, team);
  }
}

// One thread per column of the 2 d (dgamma then dbeta) slices: adds the `slices` block
// slices in block order onto the accumulated gradients.
__global__ void column_sums_kernel(const float* partial, float* dgamma, float* dbeta, int slices, int d) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= 2 * d) return;
  float s = 0;
  for (int b = 0; b < slices; ++b) s += partial[std::int64_t(b) * 2 * d + c];
  if (c < d) dgamma[c] += s;
  else dbeta[c - d] += s;
}

template <class S>
__global__ void softmax_backward_kernel(const S* y, const float* dy, S* ds, int rows, int n) {
  __shared__ float scratch[kBlockReduceSlots];
  const BlockTeam team(scratch);
  for (int r = int(blockIdx.x); r < rows; r += int(gridDim.x)) {
    const std::int64_t o = std::int64_t(r) * n;
    ::halfway::layers::softmax_backward_row<S>(y + o, dy + o, ds + o, n, team);
  }
}

template <class S>
__global__ void masked_softmax_kernel(const float* scores, S* p, int B, int H, int Lq, int Lk,
                                      const std::uint8_t* key_pad, bool causal) {
  __shared__ float scratch[kBlockReduceSlots];
  const BlockTeam team(scratch);
  const std::int64_t rows = std::int64_t(B) * H * Lq;
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const std::int64_t b = r / (std::int64_t(H) * Lq);
    ::halfway::layers::masked_softmax_row<S>(scores + r * Lk, p + r * Lk, Lk, int(r % Lq),
                                             key_pad ? key_pad + b * Lk : nullptr, causal, team);
  }
}

// The row's loss comes back to every thread; thread 0 stores it. targets[r] is the same
// for the whole block, so the ignored-row branch is taken by all threads or none.
template <class S>
__device__ void cross_entropy_rows(const S* logits, const std::int32_t* targets, int rows, int vocab,
                                   int ignore_index, float smoothing, float row_scale, S* dlogits, float* row_loss) {
  __shared__ float scratch[kBlockReduceSlots];
  const BlockTeam team(scratch);
  for (int r = int(blockIdx.x); r < rows; r += int(gridDim.x)) {
    S* d = dlogits + std::int64_t(r) * vocab;
    if (targets[r] == ignore_index) {
      for (int j = team.rank; j < vocab; j += team.size) d[j] = ::halfway::layers::st<S>(0.0f);
      if (team.rank == 0) row_loss[r] = 0.0f;
      continue;
    }
    const float loss = ::halfway::layers::cross_entropy_row<S>(logits + std::int64_t(r) * vocab, vocab, targets[r],
                                                               smoothing, row_scale, d, team);
    if (team.rank == 0) row_loss[r] = loss;
  }
}

template <class S>
__global__ void cross_entropy_kernel(const S* logits, const std::int32_t* targets, int rows, int vocab,
                                     int ignore_index, float smoothing, float row_scale, S* dlogits,
                                     float* row_loss) {
  cross_entropy_rows<S>(logits, targets, rows, vocab, ignore_index, smoothing, row_scale, dlogits, row_loss);
}

// The row scale from the device's words (every block computes the same float).
template <class S>
__global__ void cross_entropy_scaled_kernel(const S* logits, const std::int32_t* targets, int rows, int vocab,
                                            int ignore_index, float smoothing,
                                            ::halfway::layers::DeviceLossScale scale, S* dlogits, float* row_loss) {
  using namespace ::halfway::layers;
  const float row_scale =
      row_gradient_scale(loss_gradient_scale(scale.scale, scale.weight, scale.divisor), *scale.counted);
  cross_entropy_rows<S>(logits, targets, rows, vocab, ignore_index, smoothing, row_scale, dlogits, row_loss);
}

// One thread: the rows' losses in row order (the order the host added them in before).
__global__ void loss_mean_add_kernel(const float* row_loss, int rows, const std::int32_t* counted, int divisor,
                                     float* sum) {
  float total = 0.0f;
  for (int r = 0; r < rows; ++r) total += row_loss[r];
  const int c = *counted;
  *sum += (c > 0 ? total / float(c) : 0.0f) / float(divisor);
}

template <class S>
__device__ void dropout_elements(S* v, std::int64_t n, float p, std::uint64_t seed) {
  const float scale = p >= 1.0f ? 0.0f : 1.0f / (1.0f - p);
  const std::int64_t blocks = (n + 3) / 4;
  for (std::int64_t blk = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; blk < blocks;
       blk += std::int64_t(gridDim.x) * blockDim.x) {
    const rng::Block bits = rng::block(seed, std::uint64_t(blk), rng::kStreamBits);
    for (int j = 0; j < 4 && blk * 4 + j < n; ++j) {
      const bool keep = float(bits.v[j] >> 8) * 5.9604644775390625e-8f >= p;
      const std::int64_t i = blk * 4 + j;
      v[i] = keep ? ::halfway::layers::st<S>(::halfway::layers::ld(v[i]) * scale) : ::halfway::layers::st<S>(0.0f);
    }
  }
}

template <class S>
__global__ void dropout_kernel(S* v, std::int64_t n, float p, std::uint64_t seed) {
  dropout_elements<S>(v, n, p, seed);
}

// The step's seed from device memory (the batch header's): the site's seed as the host's.
template <class S>
__global__ void dropout_at_kernel(S* v, std::int64_t n, float p, const std::uint64_t* step_seed, std::uint64_t tag) {
  dropout_elements<S>(v, n, p, rng::derive_seed(*step_seed, tag));
}

template <class S>
__global__ void embedding_forward_kernel(const std::int32_t* tokens, int rows, int length, const S* table, int d,
                                         const float* pe, S* y) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= std::int64_t(rows) * d) return;
  const int r = int(i / d), c = int(i % d);
  const float scale = sqrtf(float(d));
  y[i] = ::halfway::layers::st<S>(scale * ::halfway::layers::ld(table[std::int64_t(tokens[r]) * d + c]) +
                                  pe[std::int64_t(r % length) * d + c]);
}

template <class S>
__global__ void embedding_backward_kernel(const std::int32_t* tokens, int rows, const S* dy, int vocab, int d,
                                          float* dtable) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= std::int64_t(vocab) * d) return;
  const int v = int(i / d), c = int(i % d);
  const float scale = sqrtf(float(d));
  float g = dtable[i];
  for (int r = 0; r < rows; ++r)  // in row order: the cpu's order
    if (tokens[r] == v) g += scale * ::halfway::layers::ld(dy[std::int64_t(r) * d + c]);
  dtable[i] = g;
}

template <class S>
__global__ void bias_add_kernel(const float* acc, const S* bias, S* y, int rows, int d) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= std::int64_t(rows) * d) return;
  y[i] = ::halfway::layers::st<S>(acc[i] + ::halfway::layers::ld(bias[i % d]));
}

template <class S>
__global__ void column_sum_kernel(const S* dy, float* db, int rows, int d) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= d) return;
  float s = db[c];
  for (int r = 0; r < rows; ++r) s += ::halfway::layers::ld(dy[std::int64_t(r) * d + c]);
  db[c] = s;
}

template <class S>
__global__ void elementwise_kernel(int op, const S* a, const S* b, S* out, std::int64_t n, float scale) {
  using ::halfway::layers::ld;
  using ::halfway::layers::st;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    switch (op) {
      case 0: out[i] = st<S>(ld(a[i]) + ld(b[i])); break;                                // residual
      case 1: out[i] = ld(a[i]) < 0.0f ? st<S>(0.0f) : a[i]; break;                      // relu (NaN goes on)
      case 2: out[i] = ld(a[i]) <= 0.0f ? st<S>(0.0f) : st<S>(ld(out[i]) * scale); break; // relu+dropout bwd
      case 3: out[i] = st<S>(::halfway::layers::gelu(ld(a[i]))); break;                  // gelu
      default: out[i] = st<S>(ld(out[i]) * ::halfway::layers::gelu_grad(ld(a[i]))); break;  // gelu bwd
    }
  }
}

template <class S>
void elementwise(int op, const S* a, const S* b, S* out, std::int64_t n, float scale) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(elementwise_kernel<S>, grid_blocks(n, kThreads), kThreads, 0, 0)(op, a, b, out, n, scale);
  finish();
}

template <class S>
void layernorm_forward_t(const S* x, const S* gamma, const S* beta, S* y, float* mean, float* rstd, int rows,
                         int d, float eps) {
  if (rows <= 0) return;
  HALFWAY_LAUNCH(layernorm_forward_kernel<S>, row_blocks(rows), kThreads, 0, 0)(x, gamma, beta, y, mean, rstd,
                                                                                rows, d, eps);
  finish();
}

template <class S>
void layernorm_backward_t(const S* x, const S* gamma, const float* mean, const float* rstd, const S* dy, S* dx,
                          float* dgamma, float* dbeta, int rows, int d, float* workspace) {
  if (rows <= 0) return;
  // A fixed partition of the rows, not the launch rule: the blocks' partial sums fix the bits.
  const unsigned blocks = unsigned(std::min<std::int64_t>(rows, ::halfway::layers::kLayerNormGradBlocks));
  HALFWAY_LAUNCH(layernorm_backward_kernel<S>, blocks, kThreads, 0, 0)(x, gamma, mean, rstd, dy, dx, workspace,
                                                                       rows, d);
  finish();
  HALFWAY_LAUNCH(column_sums_kernel, blocks_for(2 * std::int64_t(d)), kThreads, 0, 0)(workspace, dgamma, dbeta,
                                                                                     int(blocks), d);
  finish();
}

}  // namespace

#define HALFWAY_LAYERS_DEFINE(S)                                                                         \
  void layernorm_forward(const S* x, const S* gamma, const S* beta, S* y, float* mean, float* rstd,     \
                         int rows, int d, float eps) {                                                   \
    layernorm_forward_t<S>(x, gamma, beta, y, mean, rstd, rows, d, eps);                                 \
  }                                                                                                      \
  void layernorm_backward(const S* x, const S* gamma, const float* mean, const float* rstd, const S* dy, \
                          S* dx, float* dgamma, float* dbeta, int rows, int d, float* workspace) {       \
    layernorm_backward_t<S>(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, d, workspace);            \
  }                                                                                                      \
  void softmax_backward(const S* y, const float* dy, S* ds, int rows, int n) {                           \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(softmax_backward_kernel<S>, row_blocks(rows), kThreads, 0, 0)(y, dy, ds, rows, n);    \
    finish();                                                                                            \
  }                                                                                                      \
  void masked_softmax_forward(const float* scores, S* p, int B, int H, int Lq, int Lk,                   \
                              const std::uint8_t* key_pad, bool causal) {                                \
    const std::int64_t rows = std::int64_t(B) * H * Lq;                                                 \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(masked_softmax_kernel<S>, row_blocks(rows), kThreads, 0, 0)(scores, p, B, H, Lq, Lk,  \
                                                                               key_pad, causal);         \
    finish();                                                                                            \
  }                                                                                                      \
  void cross_entropy(const S* logits, const std::int32_t* targets, int rows, int vocab, int ignore_index, \
                     float smoothing, float row_scale, S* dlogits, float* row_loss) {                    \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(cross_entropy_kernel<S>, row_blocks(rows), kThreads, 0, 0)(                    \
        logits, targets, rows, vocab, ignore_index, smoothing, row_scale, dlogits, row_loss);            \
    finish();                                                                                            \
  }                                                                                                      \
  void cross_entropy_scaled(const S* logits, const std::int32_t* targets, int rows, int vocab,           \
                            int ignore_index, float smoothing, ::halfway::layers::DeviceLossScale scale, \
                            S* dlogits, float* row_loss) {                                               \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(cross_entropy_scaled_kernel<S>, row_blocks(rows), kThreads, 0, 0)(                    \
        logits, targets, rows, vocab, ignore_index, smoothing, scale, dlogits, row_loss);                \
    finish();                                                                                            \
  }                                                                                                      \
  void dropout(S* v, std::int64_t n, float p, std::uint64_t seed) {                                      \
    if (n <= 0 || p <= 0.0f) return;                                                                     \
    const std::int64_t blocks = (n + 3) / 4;                                                             \
    HALFWAY_LAUNCH(dropout_kernel<S>, grid_blocks(blocks, kThreads), kThreads, 0, 0)(v, n, p, seed);     \
    finish();                                                                                            \
  }                                                                                                      \
  void dropout_at(S* v, std::int64_t n, float p, const std::uint64_t* step_seed, std::uint64_t tag) {   \
    if (n <= 0 || p <= 0.0f) return;                                                                     \
    const std::int64_t blocks = (n + 3) / 4;                                                             \
    HALFWAY_LAUNCH(dropout_at_kernel<S>, grid_blocks(blocks, kThreads), kThreads, 0, 0)(v, n, p,         \
                                                                                        step_seed, tag); \
    finish();                                                                                            \
  }                                                                                                      \
  void embedding_forward(const std::int32_t* tokens, int rows, int length, const S* table, int d,        \
                         const float* pe, S* y) {                                                        \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(embedding_forward_kernel<S>, blocks_for(std::int64_t(rows) * d), kThreads, 0, 0)(     \
        tokens, rows, length, table, d, pe, y);                                                          \
    finish();                                                                                            \
  }                                                                                                      \
  void embedding_backward(const std::int32_t* tokens, int rows, const S* dy, int vocab, int d,           \
                          float* dtable) {                                                               \
    HALFWAY_LAUNCH(embedding_backward_kernel<S>, blocks_for(std::int64_t(vocab) * d), kThreads, 0, 0)(   \
        tokens, rows, dy, vocab, d, dtable);                                                             \
    finish();                                                                                            \
  }                                                                                                      \
  void bias_add(const float* acc, const S* bias, S* y, int rows, int d) {                                \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(bias_add_kernel<S>, blocks_for(std::int64_t(rows) * d), kThreads, 0, 0)(acc, bias, y, \
                                                                                             rows, d);   \
    finish();                                                                                            \
  }                                                                                                      \
  void column_sum(const S* dy, float* db, int rows, int d) {                                             \
    HALFWAY_LAUNCH(column_sum_kernel<S>, blocks_for(d), kThreads, 0, 0)(dy, db, rows, d);                \
    finish();                                                                                            \
  }                                                                                                      \
  void residual_add(const S* a, const S* b, S* out, std::int64_t n) { elementwise<S>(0, a, b, out, n, 1.0f); } \
  void relu_forward(const S* h, S* a, std::int64_t n) { elementwise<S>(1, h, nullptr, a, n, 1.0f); }     \
  void relu_dropout_backward(const S* a, S* da, std::int64_t n, float scale) {                           \
    elementwise<S>(2, a, nullptr, da, n, scale);                                                         \
  }                                                                                                      \
  void gelu_forward(const S* h, S* a, std::int64_t n) { elementwise<S>(3, h, nullptr, a, n, 1.0f); }     \
  void gelu_backward(const S* h, S* da, std::int64_t n) { elementwise<S>(4, h, nullptr, da, n, 1.0f); }

void loss_mean_add(const float* row_loss, int rows, const std::int32_t* counted, int divisor, float* sum) {
  HALFWAY_LAUNCH(loss_mean_add_kernel, 1, 1, 0, 0)(row_loss, rows, counted, divisor, sum);
  finish();
}

HALFWAY_LAYERS_DEFINE(float)
HALFWAY_LAYERS_DEFINE(::halfway::half)
HALFWAY_LAYERS_DEFINE(::halfway::bfloat16)

}  // namespace halfway::HALFWAY_KERNEL_NS
