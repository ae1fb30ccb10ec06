// Chapter 03's row kernels: one thread per row, each calling the row function the cpu
// implementation uses (see layers.hpp).
#include <algorithm>

#include "common/device.cuh"
#include "03_layers/rows.hpp"
#include "kernels/layers/layers.hpp"
#include "kernels/layers/row_ops.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

using ::halfway::layers::LayerNormRow;
using ::halfway::layers::Pass;

constexpr int kThreads = 128;

unsigned blocks_for(std::int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

void finish() {
  HALFWAY_CUDA_CHECK(cudaGetLastError());
  HALFWAY_CUDA_CHECK(cudaDeviceSynchronize());
}

template <class S>
__global__ void layernorm_forward_kernel(const S* x, const S* gamma, const S* beta, S* y, float* mean,
                                         float* rstd, int rows, int d, float eps) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  LayerNormRow<S> row;
  row.n = d;
  row.eps = eps;
  row.x = x + std::int64_t(r) * d;
  row.gamma = gamma;
  row.beta = beta;
  row.y = y + std::int64_t(r) * d;
  row.mean = mean + r;
  row.rstd = rstd + r;
  ::halfway::layers::layernorm_row<S>(Pass::forward, row);
}

// dx per row; each row's dgamma/dbeta terms go to its own slice of `partial` (zeroed), so
// no two threads add to the same address; column_sums then adds the rows up in order.
template <class S>
__global__ void layernorm_backward_kernel(const S* x, const S* gamma, const float* mean, const float* rstd,
                                          const S* dy, S* dx, float* partial, int rows, int d) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  LayerNormRow<S> row;
  row.n = d;
  row.x = x + std::int64_t(r) * d;
  row.gamma = gamma;
  row.mean = const_cast<float*>(mean + r);
  row.rstd = const_cast<float*>(rstd + r);
  row.dy = dy + std::int64_t(r) * d;
  row.dx = dx + std::int64_t(r) * d;
  row.dgamma = partial + std::int64_t(r) * 2 * d;
  row.dbeta = row.dgamma + d;
  ::halfway::layers::layernorm_row<S>(Pass::backward, row);
}

__global__ void column_sums_kernel(const float* partial, float* dgamma, float* dbeta, int rows, int d) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= 2 * d) return;
  float s = 0;
  for (int r = 0; r < rows; ++r) s += partial[std::int64_t(r) * 2 * d + c];
  if (c < d) dgamma[c] += s;
  else dbeta[c - d] += s;
}

template <class S>
__global__ void softmax_backward_kernel(const S* y, const float* dy, S* ds, int rows, int n) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const std::int64_t o = std::int64_t(r) * n;
  ::halfway::layers::softmax_backward_row<S>(y + o, dy + o, ds + o, n);
}

template <class S>
__global__ void masked_softmax_kernel(const float* scores, S* p, int B, int H, int Lq, int Lk,
                                      const std::uint8_t* key_pad, bool causal) {
  const std::int64_t r = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= std::int64_t(B) * H * Lq) return;
  const std::int64_t b = r / (std::int64_t(H) * Lq);
  ::halfway::layers::masked_softmax_row<S>(scores + r * Lk, p + r * Lk, Lk, int(r % Lq),
                                           key_pad ? key_pad + b * Lk : nullptr, causal);
}

template <class S>
__global__ void cross_entropy_kernel(const S* logits, const std::int32_t* targets, int rows, int vocab,
                                     int ignore_index, float smoothing, float row_scale, S* dlogits,
                                     float* row_loss) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  S* d = dlogits + std::int64_t(r) * vocab;
  if (targets[r] == ignore_index) {
    for (int j = 0; j < vocab; ++j) d[j] = ::halfway::layers::st<S>(0.0f);
    row_loss[r] = 0.0f;
    return;
  }
  row_loss[r] = ::halfway::layers::cross_entropy_row<S>(logits + std::int64_t(r) * vocab, vocab, targets[r],
                                                        smoothing, row_scale, d);
}

template <class S>
__global__ void dropout_kernel(S* v, std::int64_t n, float p, std::uint64_t seed) {
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
      case 1: out[i] = ld(a[i]) > 0.0f ? a[i] : st<S>(0.0f); break;                      // relu
      case 2: out[i] = ld(a[i]) > 0.0f ? st<S>(ld(out[i]) * scale) : st<S>(0.0f); break; // relu+dropout bwd
      case 3: out[i] = st<S>(::halfway::layers::gelu(ld(a[i]))); break;                  // gelu
      default: out[i] = st<S>(ld(out[i]) * ::halfway::layers::gelu_grad(ld(a[i]))); break;  // gelu bwd
    }
  }
}

template <class S>
void elementwise(int op, const S* a, const S* b, S* out, std::int64_t n, float scale) {
  if (n <= 0) return;
  const unsigned grid = unsigned(std::min<std::int64_t>((n + kThreads - 1) / kThreads, 4096));
  HALFWAY_LAUNCH(elementwise_kernel<S>, grid, kThreads, 0, 0)(op, a, b, out, n, scale);
  finish();
}

template <class S>
void layernorm_forward_t(const S* x, const S* gamma, const S* beta, S* y, float* mean, float* rstd, int rows,
                         int d, float eps) {
  if (rows <= 0) return;
  HALFWAY_LAUNCH(layernorm_forward_kernel<S>, blocks_for(rows), kThreads, 0, 0)(x, gamma, beta, y, mean, rstd, rows, d, eps);
  finish();
}

template <class S>
void layernorm_backward_t(const S* x, const S* gamma, const float* mean, const float* rstd, const S* dy, S* dx,
                          float* dgamma, float* dbeta, int rows, int d) {
  if (rows <= 0) return;
  float* partial = nullptr;
  const std::size_t bytes = std::size_t(rows) * 2 * d * sizeof(float);
  HALFWAY_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&partial), bytes));
  HALFWAY_CUDA_CHECK(cudaMemset(partial, 0, bytes));
  HALFWAY_LAUNCH(layernorm_backward_kernel<S>, blocks_for(rows), kThreads, 0, 0)(x, gamma, mean, rstd, dy, dx, partial, rows, d);
  HALFWAY_LAUNCH(column_sums_kernel, blocks_for(2 * d), kThreads, 0, 0)(partial, dgamma, dbeta, rows, d);
  finish();
  HALFWAY_CUDA_CHECK(cudaFree(partial));
}

}  // namespace

#define HALFWAY_LAYERS_DEFINE(S)                                                                         \
  void layernorm_forward(const S* x, const S* gamma, const S* beta, S* y, float* mean, float* rstd,     \
                         int rows, int d, float eps) {                                                   \
    layernorm_forward_t<S>(x, gamma, beta, y, mean, rstd, rows, d, eps);                                 \
  }                                                                                                      \
  void layernorm_backward(const S* x, const S* gamma, const float* mean, const float* rstd, const S* dy, \
                          S* dx, float* dgamma, float* dbeta, int rows, int d) {                         \
    layernorm_backward_t<S>(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, d);                       \
  }                                                                                                      \
  void softmax_backward(const S* y, const float* dy, S* ds, int rows, int n) {                           \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(softmax_backward_kernel<S>, blocks_for(rows), kThreads, 0, 0)(y, dy, ds, rows, n);    \
    finish();                                                                                            \
  }                                                                                                      \
  void masked_softmax_forward(const float* scores, S* p, int B, int H, int Lq, int Lk,                   \
                              const std::uint8_t* key_pad, bool causal) {                                \
    const std::int64_t rows = std::int64_t(B) * H * Lq;                                                 \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(masked_softmax_kernel<S>, blocks_for(rows), kThreads, 0, 0)(scores, p, B, H, Lq, Lk,  \
                                                                               key_pad, causal);         \
    finish();                                                                                            \
  }                                                                                                      \
  void cross_entropy(const S* logits, const std::int32_t* targets, int rows, int vocab, int ignore_index, \
                     float smoothing, float row_scale, S* dlogits, float* row_loss) {                    \
    if (rows <= 0) return;                                                                               \
    HALFWAY_LAUNCH(cross_entropy_kernel<S>, blocks_for(rows), kThreads, 0, 0)(                           \
        logits, targets, rows, vocab, ignore_index, smoothing, row_scale, dlogits, row_loss);            \
    finish();                                                                                            \
  }                                                                                                      \
  void dropout(S* v, std::int64_t n, float p, std::uint64_t seed) {                                      \
    if (n <= 0 || p <= 0.0f) return;                                                                     \
    const std::int64_t blocks = (n + 3) / 4;                                                             \
    const unsigned grid = unsigned(blocks < 4096 * kThreads ? blocks_for(blocks) : 4096);                \
    HALFWAY_LAUNCH(dropout_kernel<S>, grid, kThreads, 0, 0)(v, n, p, seed);                              \
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

HALFWAY_LAYERS_DEFINE(float)
HALFWAY_LAYERS_DEFINE(::halfway::half)
HALFWAY_LAYERS_DEFINE(::halfway::bfloat16)

}  // namespace halfway::HALFWAY_KERNEL_NS
