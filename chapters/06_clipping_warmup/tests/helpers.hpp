// Shared by chapter 06's tests: the test's backend, gradients in its memory, the fp64
// reference norm and its bound.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "common/device_memory.hpp"
#include "common/rng.hpp"
#include "kernels/layers/scalar.hpp"
#include "kernels/optim/grad_norm.hpp"

namespace ch06 {

using namespace halfway;

inline Backend device() {
  static const Backend chosen = select_backend(HALFWAY_TEST_BACKEND);
  return chosen;
}

template <class G>
DType dtype_of() {
  if constexpr (std::is_same_v<G, half>) return DType::f16;
  else if constexpr (std::is_same_v<G, bfloat16>) return DType::bf16;
  else return DType::f32;
}

/// Gradients in the test backend's memory, with their GradBuffer.
template <class G>
struct DeviceGrads {
  Buf<G> buf;
  std::int64_t n = 0;
  explicit DeviceGrads(const std::vector<G>& host) : n(std::int64_t(host.size())) {
    copy_in(device(), buf.get(host.size() + 1, device()), host.data(), host.size() * sizeof(G));
  }
  optim::GradBuffer grads() { return {device(), dtype_of<G>(), buf.data(), n}; }
  std::vector<G> host() const { return buf.host(std::size_t(n)); }
};

/// Random gradients: magnitudes 10^lo .. 10^hi (log-uniform), random signs, rounded to G.
template <class G>
std::vector<G> random_grads(std::int64_t n, std::uint64_t seed, double lo = -4.0, double hi = 1.0) {
  std::vector<G> g(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double e = lo + (hi - lo) * rng::uniform(seed, std::uint64_t(i));
    const double s = rng::uniform(seed + 1, std::uint64_t(i)) < 0.5 ? -1.0 : 1.0;
    g[std::size_t(i)] = layers::st<G>(float(s * std::pow(10.0, e)));
  }
  return g;
}

/// k elements for each thread of the norm's first pass (a full grid: kNormMaxBlocks x
/// kNormThreads threads, each walking every T-th element): `big` first, then k - 1 `small`s,
/// signs alternating. Where small^2 is at most half an ulp of big^2 in float, a float running
/// sum drops every small^2 (big^2 + small^2 rounds back to big^2); a double keeps them.
template <class G>
std::vector<G> big_then_small(std::int64_t k, float big, float small) {
  const std::int64_t threads = std::int64_t(optim::kNormMaxBlocks) * optim::kNormThreads;
  std::vector<G> g(static_cast<std::size_t>(k * threads));
  for (std::size_t i = 0; i < g.size(); ++i)
    g[i] = layers::st<G>((i % 2 ? -1.0f : 1.0f) * (std::int64_t(i) < threads ? big : small));
  return g;
}

/// The fp64 reference: a serial sum of the squares (each exact in double), one sqrt.
template <class G>
double reference_norm(const std::vector<G>& g) {
  double s = 0.0;
  for (G v : g) s += double(layers::ld(v)) * double(layers::ld(v));
  return std::sqrt(s);
}

/// How far the course's norm may be from the reference. Both sum n exact, non-negative
/// squares in double in some order: each sum is within (n - 1) 2^-53 (relative) of the
/// true sum, its sqrt within half that plus one double rounding (2^-53); the course's result
/// is then rounded to float (2^-24). So |ours - ref| <= ref * (2^-24 + (n + 1) 2^-53),
/// with a factor 1.01 for the second-order terms.
inline double norm_bound(double ref, std::int64_t n) {
  return ref * (0x1p-24 + double(n + 1) * 0x1p-53) * 1.01;
}

}  // namespace ch06
