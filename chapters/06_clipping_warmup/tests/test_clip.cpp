// Clipping on the test's backend: clip_grad_norm's semantics (PyTorch 1.13's coefficient,
// every gradient multiplied, the norm before clipping returned), error_if_nonfinite,
// clip_grad_value, and bad input. Exact tests: given the norm the call returns, every
// output must equal the host's g * coef bit for bit (one fp32 multiply, one rounding).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "helpers.hpp"
#include "kernels/optim/clip.hpp"
#include "kernels/optim/clip_element.hpp"

using namespace ch06;
using namespace halfway::optim;

namespace {

template <class G>
bool same_bits(const std::vector<G>& a, const std::vector<G>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(G)) == 0;
}

// PyTorch's coefficient written out independently of clip_coefficient(): in fp32,
// t + 1e-6, its reciprocal, times max_norm, clamp(max = 1).
float torch_coef(float total, float max_norm) {
  const volatile float t = total + 1e-6f;
  const volatile float r = 1.0f / t;
  const float c = r * max_norm;
  return std::isnan(c) ? c : std::min(c, 1.0f);
}

template <class G>
void check_clip(std::int64_t n, float max_norm, bool expect_clipped) {
  const auto in = random_grads<G>(n, 31 + std::uint64_t(n));
  const double ref = reference_norm(in);
  DeviceGrads<G> d(in);
  NormWorkspace ws;
  const float norm = clip_grad_norm(d.grads(), ClipOptions{max_norm, false}, ws);
  INFO("n = ", n, ", max_norm = ", max_norm);
  CHECK(std::fabs(double(norm) - ref) <= norm_bound(ref, n));
  const float coef = torch_coef(norm, max_norm);
  CHECK((coef < 1.0f) == expect_clipped);
  const auto out = d.host();
  std::vector<G> expected(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) expected[i] = layers::st<G>(layers::ld(in[i]) * coef);
  CHECK(same_bits(out, expected));
  if (!expect_clipped) CHECK(same_bits(out, in));  // coef 1: every value kept
  // Clipped: the new norm is max_norm up to the roundings (coef: 3 fp32 roundings; each
  // product one more, 2^-24 for fp32, half an ulp of G in 16 bits, relative to each value).
  if (expect_clipped) {
    const double u = std::is_same_v<G, float> ? 0x1p-24 : std::is_same_v<G, half> ? 0x1p-11 : 0x1p-8;
    CHECK(std::fabs(reference_norm(out) - max_norm) <= max_norm * (4 * 0x1p-24 + u + 2e-6 / max_norm));
  }
}

}  // namespace

TEST_CASE("clip by norm: clips above max_norm and leaves the gradients alone below it") {
  for (std::int64_t n : {1, 257, 70000, 300000}) {
    const auto in = random_grads<float>(n, 31 + std::uint64_t(n));
    const double ref = reference_norm(in);
    check_clip<float>(n, float(ref * 0.5), true);
    check_clip<float>(n, float(ref * 2.0), false);
    check_clip<half>(n, float(reference_norm(random_grads<half>(n, 31 + std::uint64_t(n))) * 0.25), true);
    check_clip<bfloat16>(n, float(reference_norm(random_grads<bfloat16>(n, 31 + std::uint64_t(n))) * 0.25), true);
  }
}

TEST_CASE("clip by norm: inf and NaN as PyTorch (no error_if_nonfinite)") {
  const float inf = std::numeric_limits<float>::infinity();
  NormWorkspace ws;
  {  // an inf total: coef 1 / inf * max_norm = 0; finite gradients become 0, the inf NaN
    std::vector<float> in{1.0f, -2.0f, inf, 3.0f};
    DeviceGrads<float> d(in);
    CHECK(clip_grad_norm(d.grads(), ClipOptions{1.0f, false}, ws) == inf);
    const auto out = d.host();
    CHECK(out[0] == 0.0f);
    CHECK(std::signbit(out[1]));
    CHECK(out[1] == 0.0f);
    CHECK(std::isnan(out[2]));
  }
  {  // a NaN total: every gradient NaN (clamp keeps the NaN coefficient)
    std::vector<float> in{1.0f, std::numeric_limits<float>::quiet_NaN(), 3.0f};
    DeviceGrads<float> d(in);
    CHECK(std::isnan(clip_grad_norm(d.grads(), ClipOptions{1.0f, false}, ws)));
    for (float v : d.host()) CHECK(std::isnan(v));
  }
}

TEST_CASE("clip by norm: error_if_nonfinite throws and leaves the gradients alone") {
  NormWorkspace ws;
  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    auto in = random_grads<float>(5000, 4);
    in[1234] = bad;
    DeviceGrads<float> d(in);
    CHECK_THROWS_WITH_AS(clip_grad_norm(d.grads(), ClipOptions{1.0f, true}, ws),
                         doctest::Contains("error_if_nonfinite"), halfway::Error);
    CHECK(same_bits(d.host(), in));
  }
  // A finite norm with the option set clips as usual.
  const auto in = random_grads<float>(5000, 4);
  DeviceGrads<float> d(in);
  const float norm = clip_grad_norm(d.grads(), ClipOptions{0.01f, true}, ws);
  CHECK(std::fabs(double(norm) - reference_norm(in)) <= norm_bound(reference_norm(in), 5000));
  CHECK(d.host()[0] == layers::st<float>(in[0] * torch_coef(norm, 0.01f)));
}

TEST_CASE("clip by value: clamps to the bound and keeps NaN") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> in{0.5f, -0.5f, 2.0f, -3.0f, inf, -inf, nan, 1.0f, -1.0f};
  DeviceGrads<float> d(in);
  clip_grad_value(d.grads(), 1.0f);
  const auto out = d.host();
  const std::vector<float> want{0.5f, -0.5f, 1.0f, -1.0f, 1.0f, -1.0f, 0.0f, 1.0f, -1.0f};
  for (std::size_t i = 0; i < in.size(); ++i) {
    INFO("i = ", i);
    if (std::isnan(in[i])) CHECK(std::isnan(out[i]));
    else CHECK(out[i] == want[i]);
  }
  // 16-bit: the bound is stored rounded to fp16 (0.1 -> 0.0999755859375).
  auto h = random_grads<half>(3000, 8, -3.0, 1.0);
  DeviceGrads<half> dh(h);
  clip_grad_value(dh.grads(), 0.1f);
  const auto oh = dh.host();
  for (std::size_t i = 0; i < h.size(); ++i) {
    const float v = float(h[i]);
    const float want_v = v > 0.1f ? float(half(0.1f)) : v < -0.1f ? float(half(-0.1f)) : v;
    CHECK(float(oh[i]) == want_v);
  }
}

TEST_CASE("clip: bad max_norm or clip value is one clear Error") {
  auto in = random_grads<float>(10, 1);
  DeviceGrads<float> d(in);
  NormWorkspace ws;
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    INFO("bad = ", bad);
    CHECK_THROWS_WITH_AS(clip_grad_norm(d.grads(), ClipOptions{bad, false}, ws), doctest::Contains("max_norm"),
                         halfway::Error);
    CHECK_THROWS_WITH_AS(clip_grad_value(d.grads(), bad), doctest::Contains("clip value"), halfway::Error);
  }
  CHECK(same_bits(d.host(), in));
}
