/// @file row_ops.hpp
/// @brief Row-wise pieces of chapter 03's layers shared by the cpu implementation and the
/// kernels: the masked softmax of one row of attention scores, and dropout's keep bit.
/// (The exercised rows, LayerNorm, softmax backward and cross-entropy, are in
/// 03_layers/rows.hpp.) Row functions take a team (kernels/layers/team.hpp): one cpu
/// thread by default, a thread block in the kernels.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/hd.hpp"
#include "common/rng.hpp"
#include "kernels/layers/scalar.hpp"
#include "kernels/layers/team.hpp"

namespace halfway::layers {

/// Softmax of one row of n scores (fp32 or fp64, A) into probabilities (S, one rounding),
/// for query i of batch entry b: key j is hidden when key_pad[j] != 0 (key_pad: this batch
/// entry's row of the padding mask, or null) or, with causal, when j > i. Hidden keys are
/// skipped, never given a large negative score; a row with no visible key (or whose
/// visible scores are all -inf, where the softmax would be 0/0) becomes all zeros.
///
/// Team `t` (kernels/layers/team.hpp): member t.rank handles keys t.rank, t.rank + t.size,
/// ...; the row's max and sum come from t.max and t.sum. The cpu passes nothing (one
/// thread); the kernel passes its block.
template <class S, class Team = SerialTeam>
HALFWAY_HD void masked_softmax_row(const acc_t<S>* s, S* out, int n, int i, const std::uint8_t* key_pad,
                                   bool causal, const Team& t = Team{}) {
  using A = acc_t<S>;
  // The max over visible keys; -inf (max's identity) for a member that sees none. It is
  // the same value for every member, so the branch below is the same for all of them.
  A m = A(-INFINITY);
  for (int j = t.rank; j < n; j += t.size) {
    const bool visible = !(key_pad && key_pad[j]) && !(causal && j > i);
    if (visible && s[j] > m) m = s[j];
  }
  m = t.max(m);
  if (!(m > A(-INFINITY))) {  // every key hidden: the row attends to nothing
    for (int j = t.rank; j < n; j += t.size) out[j] = st<S>(A(0));
    return;
  }
  A sum = 0;
  for (int j = t.rank; j < n; j += t.size) {
    const bool visible = !(key_pad && key_pad[j]) && !(causal && j > i);
    sum += visible ? std::exp(s[j] - m) : A(0);
  }
  const A inv = A(1) / t.sum(sum);
  for (int j = t.rank; j < n; j += t.size) {
    const bool visible = !(key_pad && key_pad[j]) && !(causal && j > i);
    out[j] = st<S>(visible ? std::exp(s[j] - m) * inv : A(0));
  }
}

/// Dropout's keep decision for element i: Philox-4x32-10 (common/rng.hpp) gives four 32-bit
/// words per counter, so element i uses word i % 4 of the block at offset i / 4, and keeps
/// the element when its top 24 bits times 2^-24 (a uniform in [0, 1), exact) are >= p. One
/// Philox call per four elements; the same bits on every backend.
HALFWAY_HD_INLINE bool dropout_keep(std::uint64_t seed, std::uint64_t i, float p) {
  const rng::Block b = rng::block(seed, i >> 2, rng::kStreamBits);
  return float(b.v[i & 3u] >> 8) * 5.9604644775390625e-8f >= p;
}

/// GELU, exact form: x Phi(x) = x/2 (1 + erf(x / sqrt 2)), as PyTorch's default.
template <class A>
HALFWAY_HD_INLINE A gelu(A x) {
  return A(0.5) * x * (A(1) + std::erf(x * A(0.70710678118654752440)));
}
/// d gelu / dx = Phi(x) + x phi(x).
template <class A>
HALFWAY_HD_INLINE A gelu_grad(A x) {
  return A(0.5) * (A(1) + std::erf(x * A(0.70710678118654752440))) +
         x * A(0.39894228040143267794) * std::exp(A(-0.5) * x * x);
}

}  // namespace halfway::layers
