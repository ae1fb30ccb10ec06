// Finite-difference gradient checks for chapter 03's tests, in fp64.
//
// The layers are templates on the storage type, so the very code that runs in fp32 and
// fp16 also runs in double: that is what these checks differentiate. A scalar loss
// L = sum_i w_i y_i with fixed random w turns any layer output y into a number; its
// gradient dL/dy = w is what backward() receives.
//
// Bound: a central difference (L(x+h) - L(x-h)) / 2h has a truncation error
// h^2 |L'''| / 6 (about 1e-12 * |L'''| for h = 1e-6) and a rounding error about
// 2^-52 |L| / h (about 1e-10 * |L|). Our losses and their third derivatives are O(1)-O(100),
// so |analytic - numeric| <= 1e-7 + 1e-6 |numeric| holds with room, while a wrong or
// missing term in a backward pass is off by O(1e-2) or more.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/layers/transformer.hpp"
#include "common/rng.hpp"

namespace ch03test {

using halfway::layers::Param;
using halfway::layers::ParamStore;

inline std::vector<double> normal_vec(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * halfway::rng::normal(seed, i);
  return v;
}

inline double dot(const double* a, const std::vector<double>& w) {
  double s = 0;
  for (std::size_t i = 0; i < w.size(); ++i) s += a[i] * w[i];
  return s;
}

struct GradReport {
  double max_err = 0;  // the largest |analytic - numeric| / (1e-7 + 1e-6 |numeric|)
  std::size_t checked = 0;
};

/// Compares analytic[i] with the central difference of loss() in value i, for every i (or
/// every `stride`-th for big arrays): get(i) reads value i, set(i, v) writes it. Restores
/// the values.
inline GradReport check_gradient(const std::string& what, const std::function<double(std::size_t)>& get,
                                 const std::function<void(std::size_t, double)>& set, const double* analytic,
                                 std::size_t n, const std::function<double()>& loss, std::size_t stride = 1) {
  const double h = 1e-6;
  GradReport r;
  for (std::size_t i = 0; i < n; i += stride) {
    const double keep = get(i);
    set(i, keep + h);
    const double up = loss();
    set(i, keep - h);
    const double down = loss();
    set(i, keep);
    const double numeric = (up - down) / (2 * h);
    const double err = std::abs(analytic[i] - numeric) / (1e-7 + 1e-6 * std::abs(numeric));
    if (!(err <= 1.0)) {
      FAIL_CHECK(what << "[" << i << "]: analytic " << analytic[i] << ", central difference "
                      << numeric);
      return r;
    }
    r.max_err = std::max(r.max_err, err);
    ++r.checked;
  }
  return r;
}

/// The same for an array of host values (an input of a layer).
inline GradReport check_gradient(const std::string& what, double* values, const double* analytic,
                                 std::size_t n, const std::function<double()>& loss,
                                 std::size_t stride = 1) {
  return check_gradient(
      what, [&](std::size_t i) { return values[i]; }, [&](std::size_t i, double v) { values[i] = v; }, analytic,
      n, loss, stride);
}

/// Checks every element of a parameter's gradient, perturbing its master (and working
/// copy) through the store: ParamStore::set_value.
inline void check_param(Param<double>& p, const std::function<double()>& loss) {
  auto& store = *p.store;
  const std::vector<double> analytic = store.grad_host(p), values = store.master_host(p);
  CAPTURE(p.name);
  const auto r = check_gradient(
      p.name, [&](std::size_t i) { return values[i]; },
      [&](std::size_t i, double v) { store.set_value(p, std::int64_t(i), v); }, analytic.data(), analytic.size(),
      loss);
  CHECK(r.checked == analytic.size());
}

/// Random parameters (unlike init(): LayerNorm's gamma and beta and every bias nonzero, so
/// their gradients are exercised with generic values), uploaded once; gradients zeroed.
template <class S>
void randomize(ParamStore<S>& store, std::uint64_t seed, double scale = 0.5) {
  using A = halfway::layers::acc_t<S>;
  std::vector<A> m(std::size_t(store.size()), A(0));
  std::uint64_t k = 0;
  for (auto* p : store.params()) {
    const auto v = normal_vec(std::size_t(p->numel()), halfway::rng::derive_seed(seed, ++k), scale);
    const bool gamma = p->name.find("norm") != std::string::npos && p->name.ends_with("weight");
    for (std::size_t i = 0; i < v.size(); ++i) m[std::size_t(p->offset) + i] = A((gamma ? 1.0 : 0.0) + v[i]);
  }
  store.set_masters(m);
  store.round_to_working();
  store.zero_grads();
}

}  // namespace ch03test
