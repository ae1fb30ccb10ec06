/// @file ops.hpp
/// @brief Chapter 03's operations as plain functions on arrays, the cpu implementation:
/// embedding, linear, masked softmax, dropout, activations, residual add, cross-entropy.
///
/// Every function is a template on the storage type S (see precision.hpp) and computes in
/// A = `acc_t<S>`. Each names where it rounds to S: in mixed mode that is where a value
/// becomes a 16-bit number. Arrays are row-major; activations are [rows, features] with
/// rows = batch * sequence.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "03_layers/rows.hpp"
#include "kernels/layers/precision.hpp"
#include "common/rng.hpp"
#include "kernels/layers/row_ops.hpp"
#include "common/dispatch.hpp"
#include "common/parallel_errors.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/layers/dropout_simd.hpp"
#include "kernels/layers/layers.hpp"
#include "kernels/layers/layout.hpp"
#include "kernels/layers/linear_gemms.hpp"
#include "kernels/layers/wide_blocks.hpp"

namespace halfway::layers {

/// dst[i] = st(src[i]): the rounding of an fp32 (or fp64) result to the storage type.
template <class S>
void round_to(const acc_t<S>* src, S* dst, std::int64_t n) {
  if constexpr (std::is_same_v<S, acc_t<S>>) {
    if (static_cast<const void*>(src) == static_cast<const void*>(dst)) return;
  }
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), round_to(src, dst, n));
  }
  if constexpr (is_16bit_v<S>) {  // chapter 02's bulk conversion (F16C): the same bits as st<S>
    convert_from_f32(dtype_of<S>(), src, reinterpret_cast<std::uint16_t*>(dst), n);
    return;
  }
#pragma omp parallel for schedule(static) if (worth_threads_elementwise(n))
  for (std::int64_t i = 0; i < n; ++i) dst[i] = st<S>(src[i]);
}

/// add's 16-bit loop on [begin, end): both inputs widened a block at a time, one rounding.
template <class S>
void add_wide(const S* a, const S* b, S* out, std::int64_t begin, std::int64_t end) {
  for_wide_blocks(begin, end, [&](std::int64_t at, std::int64_t count) {
    alignas(64) float x[kWideBlock], y[kWideBlock];
    widen(a + at, x, count);
    widen(b + at, y, count);
    for (std::int64_t i = 0; i < count; ++i) x[i] += y[i];
    narrow(x, out + at, count);
  });
}

/// out = st(a + b): the residual connection (one rounding in mixed mode).
template <class S>
void add(const S* a, const S* b, S* out, std::int64_t n) {
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), residual_add(a, b, out, n));
  }
  if constexpr (is_16bit_v<S>) {
    for_ranges(n, worth_threads_elementwise(n), [a, b, out](std::int64_t lo, std::int64_t hi) { add_wide(a, b, out, lo, hi); });
    return;
  }
  ParallelErrors errors;  // st<half> runs exercise 01.1: its exception must leave the region
#pragma omp parallel for schedule(static) if (worth_threads_elementwise(n))
  for (std::int64_t i = 0; i < n; ++i) errors.run([&] { out[i] = st<S>(ld(a[i]) + ld(b[i])); });
  errors.rethrow();
}

// ---- layout: copies, heads, accumulation -------------------------------------------------

/// dst[0, n) = src[0, n) in the layers' memory.
template <class T>
void copy_values(const T* src, T* dst, std::int64_t n) {
  if (on_device<T>()) copy_within(dst, src, std::size_t(n) * sizeof(T));
  else std::copy(src, src + n, dst);
}

/// p[0, n) = 0 (T: float or double, the accumulation types).
template <class T>
void zero_values(T* p, std::int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (on_device<T>()) return HALFWAY_KERNEL(layers_backend(), fill_zero(p, n));
  }
  std::fill(p, p + n, T(0));
}

/// acc[i] += ld(src[i]) in A.
template <class S>
void accumulate(const S* src, acc_t<S>* acc, std::int64_t n) {
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), accumulate(src, acc, n));
  }
  if constexpr (is_16bit_v<S>) {
    for_wide_blocks(0, n, [&](std::int64_t at, std::int64_t count) {
      alignas(64) float x[kWideBlock];
      widen(src + at, x, count);
      for (std::int64_t i = 0; i < count; ++i) acc[at + i] += x[i];
    });
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) acc[i] += ld(src[i]);
}

/// Rows [B L, ld] from column c0 -> H heads [B, H, L, dh]: head h of token (b, l) is
/// columns c0 + h dh ... c0 + h dh + dh - 1 of row b L + l.
template <class S>
void split_heads(const S* src, std::int64_t ld, int c0, S* dst, int B, int H, int L, int dh) {
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), split_heads(src, ld, c0, dst, B, H, L, dh));
  }
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int l = 0; l < L; ++l) {
        const S* s = src + (std::int64_t(b) * L + l) * ld + c0 + std::int64_t(h) * dh;
        std::copy(s, s + dh, dst + ((std::int64_t(b) * H + h) * L + l) * dh);
      }
}

/// The inverse of split_heads: [B, H, L, dh] -> rows [B L, ld] at column offset c0.
template <class S>
void merge_heads(const S* src, S* dst, std::int64_t ld, int c0, int B, int H, int L, int dh) {
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), merge_heads(src, dst, ld, c0, B, H, L, dh));
  }
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int l = 0; l < L; ++l) {
        const S* s = src + ((std::int64_t(b) * H + h) * L + l) * dh;
        std::copy(s, s + dh, dst + (std::int64_t(b) * L + l) * ld + c0 + std::int64_t(h) * dh);
      }
}

// ---- embedding and positions ---------------------------------------------------------------

/// The sinusoidal position code of Vaswani et al.: PE[p, 2i] = sin(p / 10000^(2i/D)),
/// PE[p, 2i+1] = cos(p / 10000^(2i/D)); computed in double, then held in A.
template <class A>
void positional_encoding(int length, int d_model, std::vector<A>& pe) {
  pe.resize(std::size_t(length) * d_model);
  for (int p = 0; p < length; ++p)
    for (int i = 0; i < d_model; ++i) {
      const double freq = std::pow(10000.0, -double(i - i % 2) / d_model);
      pe[std::size_t(p) * d_model + i] = A(i % 2 == 0 ? std::sin(p * freq) : std::cos(p * freq));
    }
}

/// Throws Error on a token outside [0, V). `tokens` is host memory.
inline void check_tokens(const std::int32_t* tokens, int rows, int vocab) {
  for (int r = 0; r < rows; ++r)
    HALFWAY_EXPECT(tokens[r] >= 0 && tokens[r] < vocab, "tokens in [0, " + std::to_string(vocab) + ")",
                   std::to_string(tokens[r]) + " at position " + std::to_string(r));
}

/// y[b, l, :] = st(sqrt(D) E[tokens[b, l], :] + PE[l, :]): one rounding. pe: the position
/// code [max_length, D] in A, in the layers' memory. On the cpu a token outside [0, V) is
/// an Error; on the device the caller checks the tokens first (check_tokens on its host copy).
template <class S>
void embedding_forward(const std::int32_t* tokens, int rows, int length, const S* table, int vocab,
                       int d_model, const acc_t<S>* pe, S* y) {
  using A = acc_t<S>;
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>())
      return HALFWAY_KERNEL(layers_backend(), embedding_forward(tokens, rows, length, table, d_model, pe, y));
  }
  check_tokens(tokens, rows, vocab);
  const A scale = std::sqrt(A(d_model));
  if constexpr (is_16bit_v<S>) {
    for (int r = 0; r < rows; ++r) {
      const A* p = pe + std::int64_t(r % length) * d_model;
      const S* e = table + std::int64_t(tokens[r]) * d_model;
      S* out = y + std::int64_t(r) * d_model;
      for_wide_blocks(0, d_model, [&](std::int64_t at, std::int64_t count) {
        alignas(64) float x[kWideBlock];
        widen(e + at, x, count);
        for (std::int64_t i = 0; i < count; ++i) x[i] = scale * x[i] + p[at + i];
        narrow(x, out + at, count);
      });
    }
    return;
  }
  for (int r = 0; r < rows; ++r) {
    const S* e = table + std::int64_t(tokens[r]) * d_model;
    const A* p = pe + std::int64_t(r % length) * d_model;
    S* out = y + std::int64_t(r) * d_model;
    for (int i = 0; i < d_model; ++i) out[i] = st<S>(scale * ld(e[i]) + p[i]);
  }
}

/// dE[tokens[r], :] += sqrt(D) dy[r, :] in A: a token that occurs k times gets the sum of
/// its k gradients (rows are visited in order, so the sum is deterministic).
template <class S>
void embedding_backward(const std::int32_t* tokens, int rows, const S* dy, int d_model,
                        acc_t<S>* dtable, int vocab = 0) {
  using A = acc_t<S>;
  if constexpr (!std::is_same_v<S, double>) {
    HALFWAY_EXPECT(vocab > 0 || !on_device<S>(), "the vocabulary size on the device", "none given");
    if (on_device<S>())
      return HALFWAY_KERNEL(layers_backend(), embedding_backward(tokens, rows, dy, vocab, d_model, dtable));
  }
  const A scale = std::sqrt(A(d_model));
  for (int r = 0; r < rows; ++r) {
    A* g = dtable + std::int64_t(tokens[r]) * d_model;
    const S* d = dy + std::int64_t(r) * d_model;
    if constexpr (is_16bit_v<S>) {
      for_wide_blocks(0, d_model, [&](std::int64_t at, std::int64_t count) {
        alignas(64) float x[kWideBlock];
        widen(d + at, x, count);
        for (std::int64_t i = 0; i < count; ++i) g[at + i] += scale * x[i];
      });
    } else {
      for (int i = 0; i < d_model; ++i) g[i] += scale * ld(d[i]);
    }
  }
}

// ---- linear ------------------------------------------------------------------------------

/// y[rows, out] = st(x W^T + b), W stored [out, in] (PyTorch's layout). The GEMM
/// accumulates in fp32; in mixed mode its fp32 result gets the bias before the one
/// rounding to S. On the cpu the GEMM does both in its epilogue (mm_bias_cpu); on emu and
/// cuda, and under chapter 09's hook, the fp32 result goes through workspace `ws` (rows *
/// out values of A) and a second pass (unused in fp32 mode).
template <class S>
void linear_forward(const S* x, int rows, int in, const S* w, std::int64_t ldw, const S* b, int out,
                    S* y, std::int64_t ldy, Buf<acc_t<S>>& ws) {
  using A = acc_t<S>;
  if constexpr (is_16bit_v<S>) {
    const bool hooked = std::is_same_v<S, bfloat16> && linear_gemms() != nullptr;
    if (!on_device<S>() && !hooked) return mm_bias_cpu<S>(Op::N, Op::T, rows, out, in, x, in, w, ldw, b, y, ldy);
  }
  A* acc;
  std::int64_t ld_acc;
  if constexpr (std::is_same_v<S, A>) {
    acc = y;
    ld_acc = ldy;
  } else {
    const MemoryUseScope use(MemoryUse::forward_workspace);  // not read by backward (chapter 07's memory report)
    acc = ws.get(std::size_t(rows) * out);
    ld_acc = out;
  }
  if constexpr (std::is_same_v<S, bfloat16>) {  // chapter 09: the hook's GEMM (fp8), when set
    if (LinearGemms* hook = linear_gemms()) hook->forward(x, rows, in, w, ldw, out, acc);
    else mm<S, A>(Op::N, Op::T, rows, out, in, x, in, w, ldw, acc, ld_acc);
  } else {
    mm<S, A>(Op::N, Op::T, rows, out, in, x, in, w, ldw, acc, ld_acc);
  }
  if constexpr (!std::is_same_v<S, double>) {
    HALFWAY_EXPECT(ldy == out || !on_device<S>(), "a dense output (ldy == out) on the device",
                   "ldy " + std::to_string(ldy));
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), bias_add(acc, b, y, rows, out));
  }
  if constexpr (is_16bit_v<S>) {
    // One pass: a block of the bias widened once, added to that block of columns of every
    // row of acc (our workspace) and rounded straight into y.
    for_wide_blocks(0, out, [&](std::int64_t j0, std::int64_t count) {
      alignas(64) float bias[kWideBlock];
      widen(b + j0, bias, count);
      for (int r = 0; r < rows; ++r) {
        A* v = acc + r * ld_acc + j0;
        for (std::int64_t j = 0; j < count; ++j) v[j] += bias[j];
        narrow(v, y + r * ldy + j0, count);
      }
    });
    return;
  }
  ParallelErrors errors;
#pragma omp parallel for schedule(static) if (worth_threads(std::int64_t(rows) * out))
  for (int r = 0; r < rows; ++r)
    errors.run([&] {
      for (int j = 0; j < out; ++j) y[r * ldy + j] = st<S>(acc[r * ld_acc + j] + ld(b[j]));
    });
  errors.rethrow();
}

/// The backward of linear_forward: dW += dy^T x (in G: A, or S for 16-bit gradients, the
/// GEMM's fp32 result plus the old dW rounded once) and db += column sums of dy (in A);
/// dx = dy W + beta dx, in A (the caller rounds once, after any accumulation).
template <class S, class G = acc_t<S>>
void linear_backward(const S* x, const S* dy, std::int64_t lddy, int rows, int in, int out,
                     const S* w, std::int64_t ldw, G* dw, acc_t<S>* db, acc_t<S>* dx,
                     float beta_dx) {
  using A = acc_t<S>;
  bool hooked = false;  // chapter 09: the hook's GEMM (fp8) into fp32 gradients, when set
  if constexpr (std::is_same_v<S, bfloat16> && std::is_same_v<G, float>) {
    if (LinearGemms* hook = linear_gemms()) hook->weight_grad(x, dy, lddy, rows, in, out, w, ldw, dw), hooked = true;
  }
  if (!hooked) mm<S, G>(Op::T, Op::N, out, in, rows, dy, lddy, x, in, dw, ldw, 1.0f, 1.0f);
  if (dx) mm<S, A>(Op::N, Op::N, rows, in, out, dy, lddy, w, ldw, dx, in, 1.0f, beta_dx);
  if constexpr (!std::is_same_v<S, double>) {
    HALFWAY_EXPECT(lddy == out || !on_device<S>(), "a dense gradient (lddy == out) on the device",
                   "lddy " + std::to_string(lddy));
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), column_sum(dy, db, rows, out));
  }
  if constexpr (is_16bit_v<S>) {  // the same sums, row after row, from widened blocks
    for (int r = 0; r < rows; ++r)
      for_wide_blocks(0, out, [&](std::int64_t j0, std::int64_t count) {
        alignas(64) float d[kWideBlock];
        widen(dy + r * lddy + j0, d, count);
        for (std::int64_t j = 0; j < count; ++j) db[j0 + j] += d[j];
      });
    return;
  }
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < out; ++j) db[j] += ld(dy[r * lddy + j]);
}

// ---- softmax with masks ------------------------------------------------------------------

/// Row-wise softmax of attention scores [B, H, Lq, Lk] (A, the GEMM's fp32 output) into
/// probabilities P (S: rounded once). Key j is hidden from query i when key_pad[b, j] is
/// nonzero (padding) or, with `causal`, when j > i. Masking is by skipping, not by adding
/// a large negative constant: no -1e9 that overflows fp16, and a fully masked row gives
/// zeros instead of 0/0 = NaN.
template <class S>
void masked_softmax_forward(const acc_t<S>* scores, S* p, int B, int H, int Lq, int Lk,
                            const std::uint8_t* key_pad, bool causal) {
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>())
      return HALFWAY_KERNEL(layers_backend(), masked_softmax_forward(scores, p, B, H, Lq, Lk, key_pad, causal));
  }
  const std::int64_t rows = std::int64_t(B) * H * Lq;
  ParallelErrors errors;
#pragma omp parallel for schedule(static) if (worth_threads(rows * Lk))
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t b = r / (std::int64_t(H) * Lq);
    errors.run([&] {
      const std::uint8_t* pad = key_pad ? key_pad + b * Lk : nullptr;
      if constexpr (is_16bit_v<S>) {
        if (Lk <= kWideRow) {  // the row in fp32 on the stack, then one bulk rounding
          alignas(64) float row[kWideRow];
          masked_softmax_row<float>(scores + r * Lk, row, Lk, int(r % Lq), pad, causal);
          return narrow(row, p + r * Lk, Lk);
        }
      }
      masked_softmax_row<S>(scores + r * Lk, p + r * Lk, Lk, int(r % Lq), pad, causal);
    });
  }
  errors.rethrow();
}

/// ds = softmax backward of rows of length n (exercise 03.2 on every row).
template <class S>
void softmax_backward(const S* y, const acc_t<S>* dy, S* ds, std::int64_t rows, int n) {
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), softmax_backward(y, dy, ds, int(rows), n));
  }
  ParallelErrors errors;  // exercise 03.2, maybe a stub
#pragma omp parallel for schedule(static) if (worth_threads(rows * n))
  for (std::int64_t r = 0; r < rows; ++r)
    errors.run([&] {
      if constexpr (is_16bit_v<S>) {
        if (n <= kWideRow) {  // exercise 03.2 on the row widened to fp32: the same math and rounding
          alignas(64) float yf[kWideRow], dsf[kWideRow];
          widen(y + r * n, yf, n);
          softmax_backward_row<float>(yf, dy + r * n, dsf, n);
          return narrow(dsf, ds + r * n, n);
        }
      }
      softmax_backward_row<S>(y + r * n, dy + r * n, ds + r * n, n);
    });
  errors.rethrow();
}

// ---- dropout and activations ---------------------------------------------------------------

/// Inverted dropout in place: v[i] = dropout_keep(seed, i, p) ? v[i] / (1 - p) : 0. The mask
/// is a pure function of (seed, i), so the backward pass recomputes it instead of storing
/// it, and cpu, emu and cuda drop the same elements. Dropout is diagonal, so the same call
/// is also its backward. T is S or A. (The cpu turns 16 Philox blocks at a time into 64
/// keep bits and applies them to 64 floats, dropout_simd.hpp: with AVX-512 that is 16
/// lanes at a time, the same bits, measured 3x cheaper at the feed-forward's 655k elements
/// than one block and one element at a time; without it, the plain twin.)
template <class T>
void dropout_inplace(T* v, std::int64_t n, float p, std::uint64_t seed) {
  if (p <= 0.0f) return;
  if constexpr (!std::is_same_v<T, double>) {
    if (on_device<T>()) return HALFWAY_KERNEL(layers_backend(), dropout(v, n, p, seed));
  }
  using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const A scale = p >= 1.0f ? A(0) : A(1) / (A(1) - A(p));
  const A zero = A(0);
  const auto apply = [&](std::int64_t i, bool keep) {
    if constexpr (std::is_same_v<T, A>) v[i] = keep ? v[i] * scale : zero;
    else v[i] = keep ? st<T>(ld(v[i]) * scale) : st<T>(zero);
  };
  const std::int64_t blocks = (n + 3) / 4;
  std::int64_t done = 0;  // blocks handled 16 at a time
  const double t = std::ceil(double(p) * 16777216.0);  // keep: word >> 8 >= t
  if (blocks >= 16 && t < 16777216.0) {
    const mask64::Path fast = mask64::path();  // AVX-512, AVX2 or plain, asked once per call
    const std::int64_t groups = blocks / 16;
    const std::uint32_t threshold = std::uint32_t(t) << 8;
    // Chunks of 64 groups (4096 elements): a 16-bit chunk is widened to fp32 in one bulk
    // conversion (F16C for fp16), masked like a float chunk, and rounded back in one (the
    // same bits as st(ld(v) * scale) element by element, the per-element software
    // rounding being what made fp16 dropout slow).
    constexpr std::int64_t kChunk = 64;
    const std::int64_t chunks = (groups + kChunk - 1) / kChunk;
    // Philox is compute-bound: an element costs about 8 memory-bound ones (threads from 1M).
#pragma omp parallel for schedule(static) if (worth_threads_elementwise(8 * n))
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::int64_t g0 = c * kChunk, g1 = std::min(groups, g0 + kChunk);
      const std::int64_t first = g0 * 64, count = std::min(g1 * 64, n) - first;
      alignas(64) float wide[kChunk * 64];
      float* f = nullptr;
      if constexpr (std::is_same_v<T, float>) f = v + first;
      else if constexpr (is_16bit_v<T>) {
        f = wide;
        convert_to_f32(dtype_of<T>(), reinterpret_cast<const std::uint16_t*>(v + first), f, count);
      }
      for (std::int64_t g = g0; g < g1; ++g) {
        const std::uint64_t m = mask64::keep(fast, seed, std::uint64_t(g) * 16, threshold);
        const std::int64_t at = (g - g0) * 64;
        if constexpr (std::is_same_v<T, double>) {
          for (int e = 0; e < 64 && first + at + e < n; ++e) apply(first + at + e, (m >> e) & 1u);
        } else if (at + 64 <= count) {
          mask64::apply(fast, f + at, m, scale);
        } else {
          for (std::int64_t e = 0; at + e < count; ++e) f[at + e] = (m >> e) & 1u ? f[at + e] * scale : 0.0f;
        }
      }
      if constexpr (is_16bit_v<T>)
        convert_from_f32(dtype_of<T>(), f, reinterpret_cast<std::uint16_t*>(v + first), count);
    }
    done = groups * 16;
  }
  for (std::int64_t blk = done; blk < blocks; ++blk) {  // one Philox block, four elements
    const rng::Block b = rng::block(seed, std::uint64_t(blk), rng::kStreamBits);
    for (int j = 0; j < 4 && blk * 4 + j < n; ++j)
      apply(blk * 4 + j, float(b.v[j] >> 8) * 5.9604644775390625e-8f >= p);  // as dropout_keep
  }
}

/// One dropout site's seed at one step: the value the host derives, and where a kernel can
/// read the step's seed instead (the batch header's, in the layers' memory: a step replayed
/// from a graph then draws the current step's masks, not the captured step's).
struct DropoutSeed {
  std::uint64_t value = 0;                   ///< derive_seed(step seed, tag), on the host
  const std::uint64_t* step_seed = nullptr;  ///< the step's seed in the layers' memory, or nullptr
  std::uint64_t tag = 0;                     ///< the site's tag
};

/// dropout_inplace at a site: on a device with the step's seed in device memory, the kernel
/// derives the site's seed there (the same value: derive_seed is host and device code).
template <class T>
void dropout_inplace(T* v, std::int64_t n, float p, const DropoutSeed& seed) {
  if constexpr (!std::is_same_v<T, double>) {
    if (p > 0.0f && seed.step_seed && on_device<T>())
      return HALFWAY_KERNEL(layers_backend(), dropout_at(v, n, p, seed.step_seed, seed.tag));
  }
  dropout_inplace(v, n, p, seed.value);
}

/// The activations of the feed-forward block.
enum class Activation { relu, gelu };

// ---- cross-entropy -------------------------------------------------------------------------

/// Mean cross-entropy over the rows whose target is not `ignore_index` (exercise 03.3 on
/// each), with label smoothing. dlogits = scale * dLoss/dlogits (scale: chapter 04's loss
/// scale, 1 otherwise), rounded once to S; ignored rows get zero gradient. With no counted
/// row the loss is 0 and every gradient 0 (PyTorch returns NaN there). `targets` is host
/// memory (checked and counted there); on the device the kernel reads `targets_device`,
/// their copy in the layers' memory (defaults to `targets`, right on cpu and emu), and
/// writes each row's loss into `row_loss`, the caller's workspace (required on a device:
/// a Buf the caller keeps, so no step allocates), which the host then adds in row order.
template <class S>
acc_t<S> cross_entropy(const S* logits, const std::int32_t* targets, int rows, int vocab,
                       int ignore_index, acc_t<S> smoothing, acc_t<S> scale, S* dlogits,
                       int* counted = nullptr, const std::int32_t* targets_device = nullptr,
                       Buf<float>* row_loss = nullptr) {
  using A = acc_t<S>;
  int count = 0;
  for (int r = 0; r < rows; ++r) {
    if (targets[r] == ignore_index) continue;
    HALFWAY_EXPECT(targets[r] >= 0 && targets[r] < vocab,
                   "targets in [0, " + std::to_string(vocab) + ") or the ignore index",
                   std::to_string(targets[r]));
    ++count;
  }
  if (counted) *counted = count;
  const A row_scale = count > 0 ? scale / A(count) : A(0);
  if constexpr (!std::is_same_v<S, double>) {
    if (on_device<S>()) {
      HALFWAY_EXPECT(row_loss != nullptr, "cross_entropy on a device: a row-loss workspace from the caller",
                     "none");
      float* rl = row_loss->get(std::size_t(rows));
      const std::int32_t* t = targets_device ? targets_device : targets;
      HALFWAY_KERNEL(layers_backend(), cross_entropy(logits, t, rows, vocab, ignore_index, smoothing, row_scale, dlogits, rl));
      A sum = 0;
      for (float l : to_host(rl, std::size_t(rows))) sum += l;  // in row order, as the cpu
      return count > 0 ? sum / A(count) : A(0);
    }
  }
  A total = 0;
  ParallelErrors errors;  // exercise 03.3, maybe a stub
#pragma omp parallel for schedule(static) reduction(+ : total) if (worth_threads(std::int64_t(rows) * vocab))
  for (int r = 0; r < rows; ++r) {
    S* d = dlogits + std::int64_t(r) * vocab;
    errors.run([&] {
      if (targets[r] == ignore_index) {
        std::fill(d, d + vocab, st<S>(A(0)));
        return;
      }
      const S* z = logits + std::int64_t(r) * vocab;
      if constexpr (is_16bit_v<S>) {
        if (vocab <= kWideRow) {  // exercise 03.3 on the row widened to fp32: the same math and rounding
          alignas(64) float zf[kWideRow], df[kWideRow];
          widen(z, zf, vocab);
          total += cross_entropy_row<float>(zf, vocab, targets[r], smoothing, row_scale, df);
          return narrow(df, d, vocab);
        }
      }
      total += cross_entropy_row<S>(z, vocab, targets[r], smoothing, row_scale, d);
    });
  }
  errors.rethrow();
  return count > 0 ? total / A(count) : A(0);
}

/// The trainer's cross-entropy, which sends nothing to the host: the gradient's scale comes
/// from words in the layers' memory (DeviceLossScale: the loss scale's word, the batch's
/// counted rows) and the mean loss over the counted rows, divided by scale.divisor, is
/// added into *loss_sum (a word in the layers' memory). `targets` and `row_loss` (rows
/// floats of workspace) are in the layers' memory too. On the cpu this is cross_entropy
/// above with that scale: the same bits as the host-driven form; on a device the kernel
/// computes the scale, and loss_mean_add adds the row losses in row order as the host did.
template <class S>
void cross_entropy_into(const S* logits, const std::int32_t* targets, int rows, int vocab, int ignore_index,
                        acc_t<S> smoothing, const DeviceLossScale& scale, S* dlogits, float* row_loss,
                        float* loss_sum) {
  static_assert(!std::is_same_v<S, double>, "the trainer's loss: float, half or bfloat16");
  if (on_device<S>()) {
    HALFWAY_KERNEL(layers_backend(), cross_entropy_scaled(logits, targets, rows, vocab, ignore_index, smoothing,
                                                          scale, dlogits, row_loss));
    return HALFWAY_KERNEL(layers_backend(), loss_mean_add(row_loss, rows, scale.counted, scale.divisor, loss_sum));
  }
  const float mean = cross_entropy<S>(logits, targets, rows, vocab, ignore_index, smoothing,
                                      loss_gradient_scale(scale.scale, scale.weight, scale.divisor), dlogits);
  *loss_sum += mean / float(scale.divisor);
}

}  // namespace halfway::layers
