/// @file modules.hpp
/// @brief Chapter 03's layers: parameters with names, modules with a forward pass that
/// saves what its backward pass needs, and the encoder-decoder Transformer built from them.
///
/// The framework in five rules:
/// 1. A Param has a name ("transformer.encoder.layers.0.linear1.weight", PyTorch's names)
///    and a shape, and is a view into a ParamStore (param_store.hpp): the fp32 master, the
///    working copy in the storage type S that the forward pass reads (w()), and the fp32
///    gradient that backward *accumulates* into (g()) all live in the store's flat buffers,
///    in the backend's memory. A module lists its Params with collect(); a ParamStore built
///    over that list (Seq2Seq builds its own) gives them their memory.
/// 2. forward() returns a pointer to its output, which the module owns and keeps until its
///    next forward(); it saves (by pointer or copy) what backward() needs.
/// 3. backward(dy) takes the gradient of that output and returns the gradient of the input
///    (owned by the module), accumulating parameter gradients on the way. Call it once per
///    forward, after it, with the inputs of that forward still alive.
/// 4. Every buffer is a Buf that only grows: the second step allocates nothing.
/// 5. Dropout masks are never stored: they are recomputed from (seed, step, site).
///
/// Shapes: an activation is [rows, d_model] with rows = batch * length, batch-major.
#pragma once

#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/layers/ops.hpp"
#include "kernels/layers/param_store.hpp"
#include "kernels/layers/wide_blocks.hpp"

namespace halfway::layers {

/// Hyperparameters of the encoder-decoder (defaults: the seed's model).
struct Config {
  int vocab = 13;           ///< tokens (shared by source and target)
  int d_model = 128;        ///< features per token
  int heads = 4;            ///< attention heads (d_model % heads == 0)
  int d_ff = 2048;          ///< feed-forward width
  int encoder_layers = 2;
  int decoder_layers = 2;
  float dropout = 0.1f;     ///< after attention, feed-forward, residual branches, embeddings
  Activation activation = Activation::relu;
  bool pre_ln = false;      ///< false: post-LN as nn.Transformer's default
  double ln_eps = 1e-5;     ///< LayerNorm's epsilon
  int max_length = 512;     ///< longest sequence the position code covers
};

/// What a forward pass needs to know besides its inputs.
struct RunState {
  bool training = true;      ///< dropout on (training) or off (evaluation)
  std::uint64_t seed = 0;    ///< the run's seed
  std::uint64_t step = 0;    ///< the step: a new dropout mask every step
  /// derive_seed(seed, step) in the layers' memory (the batch header's, set by
  /// Seq2Seq::forward on a device): the dropout kernels read the step there.
  const std::uint64_t* step_seed = nullptr;
};

/// FNV-1a of a name: the dropout site's tag, stable across runs and backends.
inline std::uint64_t name_tag(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

/// The seed of one dropout site at one step.
inline DropoutSeed dropout_seed(const RunState& run, std::uint64_t tag) {
  return {rng::derive_seed(rng::derive_seed(run.seed, run.step), tag), run.step_seed, tag};
}

// ---------------------------------------------------------------------------------------

/// linear_backward into a store's gradients of either type (the dx part as there): in A
/// as they are; in S (GradType::storage), dW straight from the GEMM in S (its fp32 result
/// plus the old dW, rounded once) and db summed in fp32 into `scratch`, then added into S
/// with one rounding.
template <class S>
void linear_param_backward(const S* x, const S* dy, std::int64_t lddy, int rows, int in, int out, const S* w,
                           std::int64_t ldw, Grad<S> dw, Grad<S> db, acc_t<S>* dx, Buf<acc_t<S>>& scratch) {
  if (dw.a) return linear_backward<S>(x, dy, lddy, rows, in, out, w, ldw, dw.a, db.a, dx, 0.0f);
  if constexpr (is_16bit_v<S>) {
    acc_t<S>* part = scratch.get(std::size_t(out));
    zero_values(part, out);
    linear_backward<S, S>(x, dy, lddy, rows, in, out, w, ldw, dw.s, part, dx, 0.0f);
    accumulate_grad<S>(part, db.s, out);
  }
}

/// dx = dy W (W [out, in]) in S: in 16-bit the GEMM's fp32 sums rounded once in its
/// epilogue, the same bits as an fp32 dx rounded in a pass of its own, without that pass.
template <class S>
void linear_dx(const S* dy, std::int64_t lddy, int rows, int in, int out, const S* w, std::int64_t ldw, S* dx) {
  if constexpr (std::is_same_v<S, bfloat16>) {  // chapter 09: the hook's GEMM (fp8), when set
    if (LinearGemms* hook = linear_gemms()) return hook->input_grad(dy, lddy, rows, in, out, w, ldw, dx);
  }
  mm<S, S>(Op::N, Op::N, rows, in, out, dy, lddy, w, ldw, dx, in, 1.0f, 0.0f);
}

/// y = x W^T + b with W [out, in], b [out]. Saves a pointer to x.
template <class S>
class Linear {
 public:
  using A = acc_t<S>;
  Param<S> weight, bias;

  Linear(const std::string& prefix, int in, int out)
      : weight(prefix + "weight", {out, in}), bias(prefix + "bias", {out}), in_(in), out_(out) {}

  void collect(ParamList<S>& ps) { ps.push_back(&weight); ps.push_back(&bias); }

  const S* forward(const S* x, int rows) {
    x_ = x;
    rows_ = rows;
    S* y = y_.get(std::size_t(rows) * out_);
    linear_forward<S>(x, rows, in_, weight.w(), in_, bias.w(), out_, y, out_, ws_);
    return y;
  }
  /// dx rounded once to S.
  const S* backward(const S* dy) {
    linear_param_backward<S>(x_, dy, out_, rows_, in_, out_, weight.w(), in_, weight.grad(), bias.grad(), nullptr,
                             gsum_);
    S* dx = dx_.get(std::size_t(rows_) * in_);
    linear_dx<S>(dy, out_, rows_, in_, out_, weight.w(), in_, dx);
    return dx;
  }
  /// Activations this layer keeps for backward: its input (owned upstream, counted here).
  std::size_t saved_bytes() const { return std::size_t(rows_) * in_ * sizeof(S); }
  int rows() const { return rows_; }

 private:
  int in_, out_, rows_ = 0;
  const S* x_ = nullptr;
  Buf<S> y_, dx_;
  Buf<A> ws_, gsum_;
};

/// LayerNorm over the last dimension, statistics in A (exercise 03.1 on every row).
/// Saves a pointer to x and the mean and 1/std of every row (in A).
template <class S>
class LayerNorm {
 public:
  using A = acc_t<S>;
  Param<S> weight, bias;

  LayerNorm(const std::string& prefix, int d, double eps)
      : weight(prefix + "weight", {d}, /*initial*/ 1.0), bias(prefix + "bias", {d}), d_(d), eps_(A(eps)) {}
  void collect(ParamList<S>& ps) { ps.push_back(&weight); ps.push_back(&bias); }

  const S* forward(const S* x, int rows) {
    x_ = x;
    rows_ = rows;
    S* y = y_.get(std::size_t(rows) * d_);
    A* mean = mean_.get(std::size_t(rows));
    A* rstd = rstd_.get(std::size_t(rows));
    if constexpr (!std::is_same_v<S, double>) {
      if (on_device<S>()) {
        HALFWAY_KERNEL(layers_backend(), layernorm_forward(x, weight.w(), bias.w(), y, mean, rstd, rows, d_, float(eps_)));
        return y;
      }
    }
    if constexpr (is_16bit_v<S>) {
      if (d_ <= kWideRow && !worth_threads(std::int64_t(rows) * d_)) return rows_wide(Pass::forward, x, nullptr, y, mean, rstd, nullptr), y;
    }
    ParallelErrors errors;  // exercise 03.1, maybe a stub: its exception must leave the region
#pragma omp parallel for schedule(static) if (worth_threads(std::int64_t(rows) * d_))
    for (int r = 0; r < rows; ++r) {
      const LayerNormRow<S> row{.n = d_, .eps = eps_, .x = x + std::int64_t(r) * d_, .gamma = weight.w(),
                                .beta = bias.w(), .y = y + std::int64_t(r) * d_, .mean = mean + r, .rstd = rstd + r};
      errors.run([&] { layernorm_row<S>(Pass::forward, row); });
    }
    errors.rethrow();
    return y;
  }

  const S* backward(const S* dy) {
    S* dx = dx_.get(std::size_t(rows_) * d_);
    const auto sums = grad_sums();
    if constexpr (!std::is_same_v<S, double>) {
      if (on_device<S>()) {
        // partial_ is the kernel's workspace on a device (the block slices), as it is the
        // threads' slices on the cpu: allocated once, reused by every step.
        float* ws = partial_.get(layernorm_backward_workspace(rows_, d_));
        HALFWAY_KERNEL(layers_backend(), layernorm_backward(x_, weight.w(), mean_.data(), rstd_.data(), dy, dx, sums.first,
                                               sums.second, rows_, d_, ws));
        grads_done(sums);
        return dx;
      }
    }
    const int threads = worth_threads(std::int64_t(rows_) * d_) ? omp_get_max_threads() : 1;
    A* partial = partial_.get(std::size_t(threads) * 2 * d_);
    std::fill(partial, partial + std::size_t(threads) * 2 * d_, A(0));
    bool wide = false;
    if constexpr (is_16bit_v<S>) wide = threads == 1 && d_ <= kWideRow;
    if constexpr (is_16bit_v<S>) {
      if (wide) rows_wide(Pass::backward, x_, dy, dx, mean_.data(), rstd_.data(), partial);
    }
    if (!wide) {
      ParallelErrors errors;
#pragma omp parallel num_threads(threads)
      {
        A* dg = partial + std::size_t(omp_get_thread_num()) * 2 * d_;
#pragma omp for schedule(static)
        for (int r = 0; r < rows_; ++r) {
          const LayerNormRow<S> row{.n = d_, .eps = eps_, .x = x_ + std::int64_t(r) * d_, .gamma = weight.w(),
                                    .mean = mean_.data() + r, .rstd = rstd_.data() + r, .dy = dy + std::int64_t(r) * d_,
                                    .dx = dx + std::int64_t(r) * d_, .dgamma = dg, .dbeta = dg + d_};
          errors.run([&] { layernorm_row<S>(Pass::backward, row); });
        }
      }
      errors.rethrow();
    }
    A* dgamma = sums.first;
    A* dbeta = sums.second;
    for (int t = 0; t < threads; ++t)
      for (int i = 0; i < d_; ++i) {
        dgamma[i] += partial[std::size_t(t) * 2 * d_ + i];
        dbeta[i] += partial[std::size_t(t) * 2 * d_ + d_ + i];
      }
    grads_done(sums);
    return dx;
  }
  /// Its input (counted here) and two statistics per row in A.
  std::size_t saved_bytes() const { return std::size_t(rows_) * (d_ * sizeof(S) + 2 * sizeof(A)); }

 private:
  int d_, rows_ = 0;
  A eps_;
  const S* x_ = nullptr;
  Buf<S> y_, dx_;
  Buf<A> mean_, rstd_, partial_, gsum_;

  /// The cpu's 16-bit rows: exercise 03.1 on each row widened to fp32 on the stack (gamma
  /// and beta widened once), its output (y forward, dx backward) rounded once, in bulk: the
  /// bits of layernorm_row<S>. Backward sums dgamma and dbeta row after row into the zeroed
  /// `partial` (2 d values), as the element-by-element path's one thread does.
  void rows_wide(Pass pass, const S* x, const S* dy, S* out, A* mean, A* rstd, A* partial) {
    alignas(64) float gamma[kWideRow], beta[kWideRow], xf[kWideRow], dyf[kWideRow], outf[kWideRow];
    widen(weight.w(), gamma, d_);
    if (pass == Pass::forward) widen(bias.w(), beta, d_);
    LayerNormRow<float> row{.n = d_, .eps = eps_, .x = xf, .gamma = gamma, .beta = beta, .y = outf, .dy = dyf,
                            .dx = outf, .dgamma = partial, .dbeta = partial ? partial + d_ : nullptr};
    for (int r = 0; r < rows_; ++r) {
      widen(x + std::int64_t(r) * d_, xf, d_);
      if (pass == Pass::backward) widen(dy + std::int64_t(r) * d_, dyf, d_);
      row.mean = mean + r;
      row.rstd = rstd + r;
      layernorm_row<float>(pass, row);
      narrow(outf, out + std::int64_t(r) * d_, d_);
    }
  }

  /// Where backward sums dgamma and dbeta in A: the store's gradients when they are fp32;
  /// for 16-bit gradients a zeroed fp32 scratch, which grads_done() adds into them (one
  /// rounding each).
  std::pair<A*, A*> grad_sums() {
    const Grad<S> g = weight.grad(), b = bias.grad();
    if (g.a) return {g.a, b.a};
    A* t = gsum_.get(std::size_t(2) * d_);
    zero_values(t, 2 * std::int64_t(d_));
    return {t, t + d_};
  }
  void grads_done(std::pair<A*, A*> sums) {
    if constexpr (is_16bit_v<S>) {
      const Grad<S> g = weight.grad(), b = bias.grad();
      if (g.a) return;
      accumulate_grad<S>(sums.first, g.s, d_);
      accumulate_grad<S>(sums.second, b.s, d_);
    }
  }
};

/// Multi-head attention, as PyTorch's nn.MultiheadAttention (batch first): one input
/// projection in_proj_weight [3D, D] (rows: Q, K, V), in_proj_bias [3D], out_proj.
///
/// Forward for query rows x_q [B Lq, D] and key/value rows x_kv [B Lk, D]:
/// Q = x_q W_q^T + b_q, K = x_kv W_k^T + b_k, V = x_kv W_v^T + b_v, split into H heads of
/// d_h = D / H columns; per (batch, head) S = Q K^T / sqrt(d_h) (fp32), P = softmax(S) with
/// the masks, P' = dropout(P), O = P' V; heads concatenated, then out_proj.
/// Saves Q, K, V per head, P (and P' with dropout), the concatenated heads (out_proj's input).
template <class S>
class MultiheadAttention {
 public:
  using A = acc_t<S>;
  Param<S> in_proj_weight, in_proj_bias;
  Linear<S> out_proj;

  MultiheadAttention(const std::string& prefix, int d, int heads, float dropout)
      : in_proj_weight(prefix + "in_proj_weight", {3 * d, d}),
        in_proj_bias(prefix + "in_proj_bias", {3 * d}),
        out_proj(prefix + "out_proj.", d, d), d_(d), h_(heads), p_(dropout),
        tag_(name_tag(prefix + "attn_dropout")) {
    HALFWAY_EXPECT(heads >= 1 && d % heads == 0, "d_model divisible by the number of heads",
                   std::to_string(d) + " and " + std::to_string(heads) + " heads");
  }
  void collect(ParamList<S>& ps) {
    ps.push_back(&in_proj_weight);
    ps.push_back(&in_proj_bias);
    out_proj.collect(ps);
  }

  /// Self-attention when x_kv == x_q (one fused [3D, D] projection); cross-attention
  /// otherwise. key_pad [B, Lk]: nonzero hides that key; causal hides keys j > i.
  const S* forward(const S* x_q, const S* x_kv, int B, int Lq, int Lk, const std::uint8_t* key_pad,
                   bool causal, const RunState& run) {
    xq_ = x_q;
    xkv_ = x_kv;
    self_ = x_q == x_kv;
    HALFWAY_EXPECT(!self_ || Lq == Lk, "self-attention with Lq == Lk", std::to_string(Lq) + " != " + std::to_string(Lk));
    B_ = B, Lq_ = Lq, Lk_ = Lk;
    key_pad_ = key_pad;
    causal_ = causal;
    seed_ = run.training && p_ > 0 ? dropout_seed(run, tag_) : DropoutSeed{};
    drop_ = run.training && p_ > 0;
    const int D = d_, H = h_, dh = D / H;
    const std::int64_t nq = std::int64_t(B) * Lq, nk = std::int64_t(B) * Lk;
    const S* W = in_proj_weight.w();
    const S* bias = in_proj_bias.w();

    // Projections into [rows, k D] buffers; then split into heads [B, H, L, dh].
    S* qh = qh_.get(std::size_t(nq) * D);
    S* kh = kh_.get(std::size_t(nk) * D);
    S* vh = vh_.get(std::size_t(nk) * D);
    if (self_) {
      S* qkv = proj_.get(std::size_t(nq) * 3 * D);
      linear_forward<S>(x_q, int(nq), D, W, D, bias, 3 * D, qkv, 3 * D, ws_);
      split_heads(qkv, 3 * D, 0, qh, B, Lq);
      split_heads(qkv, 3 * D, D, kh, B, Lk);
      split_heads(qkv, 3 * D, 2 * D, vh, B, Lk);
    } else {
      S* q = proj_.get(std::size_t(nq) * D + std::size_t(nk) * 2 * D);
      S* kv = q + nq * D;
      linear_forward<S>(x_q, int(nq), D, W, D, bias, D, q, D, ws_);
      linear_forward<S>(x_kv, int(nk), D, W + std::int64_t(D) * D, D, bias + D, 2 * D, kv, 2 * D, ws_);
      split_heads(q, D, 0, qh, B, Lq);
      split_heads(kv, 2 * D, 0, kh, B, Lk);
      split_heads(kv, 2 * D, D, vh, B, Lk);
    }
    // Scores in fp32 (A), never stored in 16 bits: softmax reads them directly.
    const std::int64_t np = std::int64_t(B) * H * Lq * Lk;
    A* scores = scores_.get(std::size_t(np));
    const A scale = A(1.0 / std::sqrt(double(dh)));  // in A: not rounded to float in fp64 mode
    mm<S, A>(Op::N, Op::T, Lq, Lk, dh, qh, dh, kh, dh, scores, Lk, scale, 0.0f, B * H,
             std::int64_t(Lq) * dh, std::int64_t(Lk) * dh, std::int64_t(Lq) * Lk);
    S* p = p_buf_.get(std::size_t(np));
    masked_softmax_forward<S>(scores, p, B, H, Lq, Lk, key_pad, causal);
    const S* pd = p;
    if (drop_) {
      S* pdrop = pdrop_.get(std::size_t(np));
      copy_values(p, pdrop, np);
      dropout_inplace(pdrop, np, p_, seed_);
      pd = pdrop;
    }
    S* oh = oh_.get(std::size_t(nq) * D);
    mm<S, S>(Op::N, Op::N, Lq, dh, Lk, pd, Lk, vh, dh, oh, dh, 1.0f, 0.0f, B * H,
             std::int64_t(Lq) * Lk, std::int64_t(Lk) * dh, std::int64_t(Lq) * dh);
    S* o = o_.get(std::size_t(nq) * D);
    merge_heads(oh, o, D, 0, B, Lq);
    return out_proj.forward(o, int(nq));
  }

  /// Returns dx_q; for cross-attention dx_kv() then holds the gradient of x_kv. For
  /// self-attention dx_q is the sum of the three paths (Q, K and V).
  const S* backward(const S* dy) {
    const int D = d_, H = h_, dh = D / H, B = B_, Lq = Lq_, Lk = Lk_;
    const std::int64_t nq = std::int64_t(B) * Lq, nk = std::int64_t(B) * Lk;
    const std::int64_t np = std::int64_t(B) * H * Lq * Lk;
    const A scale = A(1.0 / std::sqrt(double(dh)));  // in A: not rounded to float in fp64 mode
    const S* d_o = out_proj.backward(dy);
    S* doh = doh_.get(std::size_t(nq) * D);
    split_heads(d_o, D, 0, doh, B, Lq);
    // dP' = dO V^T (fp32), dV = P'^T dO.
    A* dp = scores_.get(std::size_t(np));  // the scores are dead: reuse their memory
    mm<S, A>(Op::N, Op::T, Lq, Lk, dh, doh, dh, vh_.data(), dh, dp, Lk, 1.0f, 0.0f, B * H,
             std::int64_t(Lq) * dh, std::int64_t(Lk) * dh, std::int64_t(Lq) * Lk);
    S* dvh = dvh_.get(std::size_t(nk) * D);
    const S* pd = drop_ ? pdrop_.data() : p_buf_.data();
    mm<S, S>(Op::T, Op::N, Lk, dh, Lq, pd, Lk, doh, dh, dvh, dh, 1.0f, 0.0f, B * H,
             std::int64_t(Lq) * Lk, std::int64_t(Lq) * dh, std::int64_t(Lk) * dh);
    if (drop_) dropout_inplace(dp, np, p_, seed_);
    S* ds = ds_.get(std::size_t(np));
    softmax_backward<S>(p_buf_.data(), dp, ds, std::int64_t(B) * H * Lq, Lk);
    // dQ = dS K / sqrt(dh), dK = dS^T Q / sqrt(dh).
    S* dqh = dqh_.get(std::size_t(nq) * D);
    S* dkh = dkh_.get(std::size_t(nk) * D);
    mm<S, S>(Op::N, Op::N, Lq, dh, Lk, ds, Lk, kh_.data(), dh, dqh, dh, scale, 0.0f, B * H,
             std::int64_t(Lq) * Lk, std::int64_t(Lk) * dh, std::int64_t(Lq) * dh);
    mm<S, S>(Op::T, Op::N, Lk, dh, Lq, ds, Lk, qh_.data(), dh, dkh, dh, scale, 0.0f, B * H,
             std::int64_t(Lq) * Lk, std::int64_t(Lq) * dh, std::int64_t(Lk) * dh);
    const S* W = in_proj_weight.w();
    const Grad<S> dW = in_proj_weight.grad(), db = in_proj_bias.grad();
    S* dx = dx_.get(std::size_t(nq + nk) * D);
    if (self_) {
      S* dqkv = dproj_.get(std::size_t(nq) * 3 * D);
      merge_heads(dqh, dqkv, 3 * D, 0, B, Lq);
      merge_heads(dkh, dqkv, 3 * D, D, B, Lk);
      merge_heads(dvh, dqkv, 3 * D, 2 * D, B, Lk);
      linear_param_backward<S>(xq_, dqkv, 3 * D, int(nq), D, 3 * D, W, D, dW, db, nullptr, gsum_);
      linear_dx<S>(dqkv, 3 * D, int(nq), D, 3 * D, W, D, dx);
      dxkv_ = nullptr;
    } else {
      S* dq = dproj_.get(std::size_t(nq) * D + std::size_t(nk) * 2 * D);
      S* dkv = dq + nq * D;
      merge_heads(dqh, dq, D, 0, B, Lq);
      merge_heads(dkh, dkv, 2 * D, 0, B, Lk);
      merge_heads(dvh, dkv, 2 * D, D, B, Lk);
      linear_param_backward<S>(xq_, dq, D, int(nq), D, D, W, D, dW, db, nullptr, gsum_);
      linear_param_backward<S>(xkv_, dkv, 2 * D, int(nk), D, 2 * D, W + std::int64_t(D) * D, D,
                               dW + std::int64_t(D) * D, db + D, nullptr, gsum_);
      linear_dx<S>(dq, D, int(nq), D, D, W, D, dx);
      linear_dx<S>(dkv, 2 * D, int(nk), D, 2 * D, W + std::int64_t(D) * D, D, dx + nq * D);
      dxkv_ = dx + nq * D;
    }
    return dx;
  }
  /// The gradient of x_kv after a cross-attention backward (nullptr after self-attention).
  const S* dx_kv() const { return dxkv_; }

  /// Q, K, V per head, P (and P' when dropout is on), the merged heads, the inputs.
  std::size_t saved_bytes() const {
    const std::size_t nq = std::size_t(B_) * Lq_, nk = std::size_t(B_) * Lk_;
    const std::size_t np = std::size_t(B_) * h_ * Lq_ * Lk_;
    std::size_t s = (nq + 2 * nk) * d_ + np * (drop_ ? 2 : 1) + nq * d_;  // QKV, P (P'), heads
    s += nq * d_;  // the query input (a cross-attention's memory is the encoder's, counted there)
    return s * sizeof(S);
  }

 private:
  void split_heads(const S* src, std::int64_t ld, int c0, S* dst, int B, int L) const {
    layers::split_heads<S>(src, ld, c0, dst, B, h_, L, d_ / h_);
  }
  void merge_heads(const S* src, S* dst, std::int64_t ld, int c0, int B, int L) const {
    layers::merge_heads<S>(src, dst, ld, c0, B, h_, L, d_ / h_);
  }

  int d_, h_;
  float p_;
  std::uint64_t tag_;
  DropoutSeed seed_;
  bool drop_ = false, self_ = true, causal_ = false;
  int B_ = 0, Lq_ = 0, Lk_ = 0;
  const S *xq_ = nullptr, *xkv_ = nullptr, *dxkv_ = nullptr;
  const std::uint8_t* key_pad_ = nullptr;
  Buf<S> proj_, qh_, kh_, vh_, p_buf_, pdrop_, oh_, o_, doh_, dvh_, ds_, dqh_, dkh_, dproj_, dx_;
  Buf<A> scores_, ws_, gsum_;
};

/// ReLU as torch.relu computes it, a = (h < 0 ? +0 : h), so a NaN goes on (it must not hide
/// in the forward pass) and -0 stays -0; and its backward with dropout's, as PyTorch's
/// threshold_backward on the output, da = (a <= 0 ? +0 : da * scale), so a NaN output passes
/// its gradient on. On [begin, end), branch-free (see common/parallel_ranges.hpp for why
/// they are functions of their own).
template <class T>
void relu_range(const T* h, T* a, std::int64_t begin, std::int64_t end) {
  if constexpr (is_16bit_v<T>) {
    // On the bits: x < 0 exactly for the words 0x8001 .. -inf (the negative subnormals,
    // normals and -inf; not -0 or the NaNs above -inf), a range of `inf` words, so no
    // conversion is needed at all. The select is an AND with a mask, so that it vectorises
    // (a ?: on the words compiled to a branch, mispredicted half the time: 8% of an fp16 step).
    // Read through word pointers: GCC 12 does not vectorise a bit_cast of the half class
    // (the loop ran scalar, 3% of an fp16 step).
    constexpr std::uint16_t inf = std::is_same_v<T, half> ? 0x7C00 : 0x7F80;
    const auto* hw = reinterpret_cast<const std::uint16_t*>(h);
    auto* aw = reinterpret_cast<std::uint16_t*>(a);
    for (std::int64_t i = begin; i < end; ++i) {
      const std::uint16_t x = hw[i];
      const std::uint16_t negative = std::uint16_t(x - 0x8001u) < inf;
      aw[i] = std::uint16_t(x & std::uint16_t(negative - 1u));
    }
  } else {
    for (std::int64_t i = begin; i < end; ++i) a[i] = h[i] < T(0) ? T(0) : h[i];
  }
}
template <class T, class A>
void relu_grad_range(const T* a, T* da, A scale, std::int64_t begin, std::int64_t end) {
  if constexpr (is_16bit_v<T>) {
    // Widened and rounded back in chunks by chapter 02's bulk conversion (F16C where
    // present): the same bits as ld/st element by element, as dropout_inplace does.
    constexpr std::int64_t kChunk = 256;
    alignas(64) float wide[kChunk], keep[kChunk];
    for (std::int64_t at = begin; at < end; at += kChunk) {
      const std::int64_t count = std::min(kChunk, end - at);
      convert_to_f32(dtype_of<T>(), reinterpret_cast<const std::uint16_t*>(a + at), keep, count);
      convert_to_f32(dtype_of<T>(), reinterpret_cast<const std::uint16_t*>(da + at), wide, count);
      relu_grad_range(keep, wide, float(scale), 0, count);
      convert_from_f32(dtype_of<T>(), wide, reinterpret_cast<std::uint16_t*>(da + at), count);
    }
  } else {
    // The select is done on the bits (d or +0): a float select would leave the multiply
    // under a branch, which the compiler may not vectorise (it could trap, -ftrapping-math).
    using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    for (std::int64_t i = begin; i < end; ++i) {
      const U keep = a[i] <= T(0) ? U(0) : ~U(0);
      da[i] = std::bit_cast<T>(std::bit_cast<U>(T(da[i] * scale)) & keep);
    }
  }
}

/// The feed-forward block: linear1 (D -> F), activation, dropout, linear2 (F -> D).
/// Saves x (linear1's input), the activated and dropped [rows, F] (linear2's input, from
/// which ReLU's mask is also read) and, for GELU only, the pre-activation [rows, F].
template <class S>
class FeedForward {
 public:
  using A = acc_t<S>;
  Linear<S> linear1, linear2;

  FeedForward(const std::string& prefix, int d, int f, Activation act, float dropout)
      : linear1(prefix + "linear1.", d, f), linear2(prefix + "linear2.", f, d), f_(f), act_(act),
        p_(dropout), tag_(name_tag(prefix + "dropout")) {}
  void collect(ParamList<S>& ps) { linear1.collect(ps); linear2.collect(ps); }

  const S* forward(const S* x, int rows, const RunState& run) {
    rows_ = rows;
    drop_ = run.training && p_ > 0;
    seed_ = drop_ ? dropout_seed(run, tag_) : DropoutSeed{};
    const S* h = linear1.forward(x, rows);
    h_ = h;  // linear1's output buffer, untouched until its next forward: GELU's saved input
    const std::int64_t n = std::int64_t(rows) * f_;
    S* a = a_.get(std::size_t(n));
    if constexpr (!std::is_same_v<S, double>) {
      if (on_device<S>()) {
        if (act_ == Activation::relu) HALFWAY_KERNEL(layers_backend(), relu_forward(h, a, n));
        else HALFWAY_KERNEL(layers_backend(), gelu_forward(h, a, n));
        if (drop_) dropout_inplace(a, n, p_, seed_);
        return linear2.forward(a, rows);
      }
    }
    if (act_ == Activation::relu) {
      // Branch-free, so it vectorises: the signs are random, a branch would mispredict half
      // the time (this loop and backward's took 11% of an fp32 step, 17% of an fp16 one).
      for_ranges(n, worth_threads_elementwise(n), [h, a](std::int64_t b, std::int64_t e) { relu_range(h, a, b, e); });
    } else {
      ParallelErrors errors;
#pragma omp parallel for schedule(static) if (worth_threads(n))
      for (std::int64_t i = 0; i < n; ++i) errors.run([&] { a[i] = st<S>(gelu(ld(h[i]))); });
      errors.rethrow();
    }
    if (drop_) dropout_inplace(a, n, p_, seed_);
    return linear2.forward(a, rows);
  }

  const S* backward(const S* dy) {
    const std::int64_t n = std::int64_t(rows_) * f_;
    S* da = const_cast<S*>(linear2.backward(dy));  // linear2's own dx buffer: ours to edit
    const S* a = a_.data();
    if constexpr (!std::is_same_v<S, double>) {
      if (on_device<S>()) {
        if (act_ == Activation::relu) {
          HALFWAY_KERNEL(layers_backend(), relu_dropout_backward(a, da, n, drop_ ? 1.0f / (1.0f - p_) : 1.0f));
        } else {
          if (drop_) dropout_inplace(da, n, p_, seed_);
          HALFWAY_KERNEL(layers_backend(), gelu_backward(h_, da, n));
        }
        return linear1.backward(da);
      }
    }
    if (act_ == Activation::relu) {
      // a = dropout(relu(h)) is > 0 or NaN exactly where h is and the element was kept (a
      // dropped element is +0): ReLU's and dropout's backward together are "a <= 0 ? 0 :
      // da / (1 - p)", with no need to recompute the dropout mask.
      const A scale = drop_ ? A(1) / (A(1) - A(p_)) : A(1);
      for_ranges(n, worth_threads_elementwise(n),
                 [a, da, scale](std::int64_t b, std::int64_t e) { relu_grad_range(a, da, scale, b, e); });
    } else {
      if (drop_) dropout_inplace(da, n, p_, seed_);
      const S* h = h_;
      ParallelErrors errors;
#pragma omp parallel for schedule(static) if (worth_threads(n))
      for (std::int64_t i = 0; i < n; ++i) errors.run([&] { da[i] = st<S>(ld(da[i]) * gelu_grad(ld(h[i]))); });
      errors.rethrow();
    }
    return linear1.backward(da);
  }
  std::size_t saved_bytes() const {
    return linear1.saved_bytes() + linear2.saved_bytes() +
           (act_ == Activation::gelu ? std::size_t(rows_) * f_ * sizeof(S) : 0);
  }

 private:
  int f_, rows_ = 0;
  Activation act_;
  float p_;
  std::uint64_t tag_;
  DropoutSeed seed_;
  bool drop_ = false;
  const S* h_ = nullptr;
  Buf<S> a_;
};

}  // namespace halfway::layers
