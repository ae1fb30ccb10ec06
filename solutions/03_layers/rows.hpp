/// @file rows.hpp
/// @brief Chapter 03's exercises: the row-wise math of LayerNorm (03.1), of the softmax's
/// backward pass (03.2) and of the cross-entropy loss (03.3).
///
/// Each function handles one row (one token's d_model features, one query's attention
/// scores, one token's logits). The cpu implementation of the layers
/// (kernels/layers/modules.hpp) calls them for every row, so the layers, the model
/// and chapter 07's trainer run on your code; so do the kernels (kernels/layers/layers.cu).
///
/// Teams: each function takes a team `t` as its last argument (kernels/layers/team.hpp).
/// The cpu passes nothing and gets SerialTeam, one thread (rank 0, size 1); a kernel
/// passes its thread block (rank threadIdx.x, size blockDim.x). Write every loop over the
/// row as `for (int i = t.rank; i < n; i += t.size)`: each member handles its own
/// elements. A sum over the row is each member's partial sum combined by `t.sum(partial)`
/// (a max, by `t.max(partial)`), which returns the row's total to every member. Every
/// member calls t.sum/t.max the same number of times (a block's version has barriers in
/// it), and a value for the whole row (the mean) is written by member 0 only.
///
/// Types: S is the storage type (double, float, halfway::half or halfway::bfloat16), A =
/// `acc_t<S>` the type to compute in (double for double, float otherwise). Read with
/// `ld(x[i])` (exact), write with `st<S>(value)` (the one rounding to 16 bits in mixed
/// mode). Every sum and statistic stays in A, whatever S is.
#pragma once

#include <cmath>

#include "common/exercise.hpp"
#include "common/hd.hpp"
#include "kernels/layers/scalar.hpp"
#include "kernels/layers/team.hpp"

namespace halfway::layers {

/// Forward or backward.
enum class Pass { forward, backward };

/// One row of a LayerNorm: its pointers and sizes.
template <class S>
struct LayerNormRow {
  using A = acc_t<S>;
  int n = 0;                  ///< features in the row (d_model)
  A eps = A(1e-5);            ///< added to the variance
  const S* x = nullptr;       ///< input row (forward and backward)
  const S* gamma = nullptr;   ///< scale, n values
  const S* beta = nullptr;    ///< shift, n values (forward)
  S* y = nullptr;             ///< output row (forward)
  A* mean = nullptr;          ///< the row's mean: written by forward, read by backward
  A* rstd = nullptr;          ///< 1 / sqrt(variance + eps): written by forward, read by backward
  const S* dy = nullptr;      ///< gradient of the output row (backward)
  S* dx = nullptr;            ///< gradient of the input row (backward, overwritten)
  A* dgamma = nullptr;        ///< gradient of gamma (backward, accumulated: +=)
  A* dbeta = nullptr;         ///< gradient of beta (backward, accumulated: +=)
};

/// LayerNorm of one row.
///
/// Forward: \f$\mu = \frac1n\sum_i x_i\f$, \f$\sigma^2 = \frac1n\sum_i (x_i-\mu)^2\f$ (the
/// biased variance, as PyTorch), \f$r = 1/\sqrt{\sigma^2+\epsilon}\f$,
/// \f$\hat x_i = (x_i-\mu)\,r\f$, \f$y_i = \gamma_i \hat x_i + \beta_i\f$; saves \f$\mu\f$ and \f$r\f$
/// (member 0 writes them).
///
/// Backward, with \f$g_i = \gamma_i\,\partial L/\partial y_i\f$:
/// \f$\partial L/\partial x_i = r\,(g_i - \overline{g} - \hat x_i\,\overline{g\hat x})\f$,
/// \f$\partial L/\partial\gamma_i \mathrel{+}= \hat x_i\,\partial L/\partial y_i\f$,
/// \f$\partial L/\partial\beta_i \mathrel{+}= \partial L/\partial y_i\f$
/// (bars are means over the row). Each dgamma_i/dbeta_i is added to by the member that
/// owns element i, so the members of a team never add to the same address.
template <class S, class Team = SerialTeam>
HALFWAY_HD void layernorm_row(Pass pass, const LayerNormRow<S>& r, const Team& t = Team{}) {
  using A = acc_t<S>;
  // BEGIN EXERCISE 03.1 (4 points): LayerNorm forward and backward of one row
  // HINT: each member loops i = t.rank; i < n; i += t.size; combine with t.sum (every
  // HINT: member gets the row's total); only member 0 (t.rank == 0) writes *r.mean, *r.rstd.
  // HINT: forward: mean, then the variance as the mean of (x - mean)^2 (two passes: the
  // HINT: one-pass E[x^2] - mean^2 cancels catastrophically), all in A; rstd = 1/sqrt(var + eps).
  // HINT: backward: recompute xhat from x, *r.mean and *r.rstd; two sums over the row,
  // HINT: then dx; dgamma and dbeta are accumulated (+=) per element, never overwritten.
  const int n = r.n;
  if (pass == Pass::forward) {
    A sum = 0;
    for (int i = t.rank; i < n; i += t.size) sum += ld(r.x[i]);
    const A mean = t.sum(sum) / A(n);
    A var = 0;
    for (int i = t.rank; i < n; i += t.size) {
      const A d = ld(r.x[i]) - mean;
      var += d * d;
    }
    var = t.sum(var) / A(n);
    const A rstd = A(1) / std::sqrt(var + r.eps);
    for (int i = t.rank; i < n; i += t.size)
      r.y[i] = st<S>((ld(r.x[i]) - mean) * rstd * ld(r.gamma[i]) + ld(r.beta[i]));
    if (t.rank == 0) {
      *r.mean = mean;
      *r.rstd = rstd;
    }
  } else {
    const A mean = *r.mean, rstd = *r.rstd;
    A sum_g = 0, sum_gx = 0;
    for (int i = t.rank; i < n; i += t.size) {
      const A xhat = (ld(r.x[i]) - mean) * rstd;
      const A dy = ld(r.dy[i]);
      const A g = dy * ld(r.gamma[i]);
      sum_g += g;
      sum_gx += g * xhat;
      r.dgamma[i] += dy * xhat;
      r.dbeta[i] += dy;
    }
    const A mean_g = t.sum(sum_g) / A(n), mean_gx = t.sum(sum_gx) / A(n);
    for (int i = t.rank; i < n; i += t.size) {
      const A xhat = (ld(r.x[i]) - mean) * rstd;
      const A g = ld(r.dy[i]) * ld(r.gamma[i]);
      r.dx[i] = st<S>(rstd * (g - mean_g - xhat * mean_gx));
    }
  }
  // END EXERCISE 03.1
}

/// The softmax's backward pass over one row of n values: with y = softmax(s) and
/// dy = dL/dy, \f$\partial L/\partial s_j = y_j\,(dy_j - \sum_k y_k\,dy_k)\f$.
/// Masked entries have y_j = 0 and so get 0; a fully masked row (all y = 0) gets zeros.
template <class S, class Team = SerialTeam>
HALFWAY_HD void softmax_backward_row(const S* y, const acc_t<S>* dy, S* ds, int n, const Team& t = Team{}) {
  using A = acc_t<S>;
  // BEGIN EXERCISE 03.2 (3 points): Softmax backward of one row
  // HINT: each member loops j = t.rank; j < n; j += t.size; combine with t.sum.
  // HINT: one sum over the row (in A), then one pass that writes ds with st<S>(...).
  A dot = 0;
  for (int j = t.rank; j < n; j += t.size) dot += ld(y[j]) * dy[j];
  dot = t.sum(dot);
  for (int j = t.rank; j < n; j += t.size) ds[j] = st<S>(ld(y[j]) * (dy[j] - dot));
  // END EXERCISE 03.2
}

/// Cross-entropy of one row of V logits against class `target` (0 <= target < V), with
/// label smoothing eps: the target distribution is
/// \f$q_j = (1-\epsilon)[j = \mathrm{target}] + \epsilon/V\f$, the loss
/// \f$\ell = -\sum_j q_j \log p_j\f$ with \f$p = \mathrm{softmax}(z)\f$, computed as
/// \f$\log p_j = z_j - m - \log\sum_k e^{z_k - m}\f$, \f$m = \max_k z_k\f$ (log-sum-exp: no
/// exponential overflows, whatever the logits; the smoothing term is skipped when eps = 0). Returns \f$\ell\f$ to
/// every member of the team and writes
/// \f$\partial(\text{scale}\cdot\ell)/\partial z_j = \text{scale}\,(p_j - q_j)\f$ into dlogits.
template <class S, class Team = SerialTeam>
HALFWAY_HD acc_t<S> cross_entropy_row(const S* logits, int V, int target, acc_t<S> smoothing,
                                      acc_t<S> scale, S* dlogits, const Team& t = Team{}) {
  using A = acc_t<S>;
  // BEGIN EXERCISE 03.3 (4 points): Cross-entropy forward and backward of one row
  // HINT: each member loops j = t.rank; j < V; j += t.size; combine with t.max and t.sum
  // HINT: (a member's max starts at -INFINITY, the identity); every member returns the loss.
  // HINT: three passes in A: the max m; the sum of exp(z - m) (and of z - m, for the
  // HINT: smoothing term); then the loss from log-sum-exp and p_j - q_j for each j.
  A m = A(-INFINITY);
  for (int j = t.rank; j < V; j += t.size) m = ld(logits[j]) > m ? ld(logits[j]) : m;
  m = t.max(m);
  A sum_exp = 0, sum_zm = 0;
  for (int j = t.rank; j < V; j += t.size) {
    sum_exp += std::exp(ld(logits[j]) - m);
    sum_zm += ld(logits[j]) - m;
  }
  sum_exp = t.sum(sum_exp);
  const A log_sum = std::log(sum_exp);  // log sum_k exp(z_k - m), in [0, log V]
  // -sum_j q_j log p_j with log p_j = (z_j - m) - log_sum:
  //   (1 - eps) (log_sum - (z_t - m)) + eps (log_sum - mean_j (z_j - m))
  A loss = (A(1) - smoothing) * (log_sum - (ld(logits[target]) - m));
  if (smoothing != A(0)) loss += smoothing * (log_sum - t.sum(sum_zm) / A(V));  // the same branch for all
  for (int j = t.rank; j < V; j += t.size) {
    const A p = std::exp(ld(logits[j]) - m) / sum_exp;
    const A q = (j == target ? A(1) - smoothing : A(0)) + smoothing / A(V);
    dlogits[j] = st<S>(scale * (p - q));
  }
  return loss;
  // END EXERCISE 03.3
}

}  // namespace halfway::layers
