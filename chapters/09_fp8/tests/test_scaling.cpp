// The scaling recipes' casts and their telemetry (kernels/fp8/scaling.hpp): current
// scaling, the saturation and underflow counts, per-block scaling.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/fp8/scaling.hpp"

using namespace halfway;
using namespace halfway::fp8;

TEST_CASE("current scaling maps the amax onto the format's max") {
  CHECK(current_scale(2.0f, Fp8Format::e4m3) == 224.0f);
  CHECK(current_scale(2.0f, Fp8Format::e5m2) == 28672.0f);
  CHECK(current_scale(2.0f, Fp8Format::e4m3, 1) == 112.0f);
  CHECK(current_scale(0.0f, Fp8Format::e4m3) == 1.0f);  // nothing to scale: unscaled
  CHECK(current_scale(NAN, Fp8Format::e4m3) == 1.0f);
}

TEST_CASE("amax is the largest magnitude and NaN for a non-finite tensor") {
  const std::vector<float> x = {0.5f, -3.0f, 2.0f};
  CHECK(amax(x.data(), 3) == 3.0f);
  const std::vector<float> y = {0.5f, -INFINITY};
  CHECK(std::isnan(amax(y.data(), 2)));
  CHECK(amax(x.data(), 0) == 0.0f);
}

TEST_CASE("a cast counts saturated and underflowed values") {
  // Scale 1 in e4m3: 500 and -1000 are beyond 448, 1e-4 and -1e-5 below half of 2^-9.
  const std::vector<float> x = {1.0f, 500.0f, -1000.0f, 1e-4f, -1e-5f, 0.0f, 448.0f, 0.001f};
  std::vector<std::uint8_t> q(x.size());
  const QuantStats s = quantize(x.data(), static_cast<std::int64_t>(x.size()), 1.0f, Fp8Format::e4m3, q.data());
  CHECK(s.count == 8);
  CHECK(s.saturated == 2);
  CHECK(s.underflowed == 2);  // 0 itself is no underflow; 0.001 rounds up to 2^-9
  CHECK(s.nonfinite == 0);
  CHECK(s.amax == 1000.0f);
  CHECK(q[1] == 0x7E);
  CHECK(q[2] == 0xFE);
  CHECK(q[4] == 0x80);
  CHECK(q[7] == 0x01);
  CHECK(s.history_amax() == 1000.0f);
}

TEST_CASE("a scale chosen from the amax removes saturation and most underflow") {
  // Values from 2^-12 to 2^4: unscaled, e4m3 flushes the smallest; scaled by 448/16 = 28,
  // every value lands in [2^-12 * 28, 448], inside e4m3's range.
  std::vector<float> x;
  for (int k = -12; k <= 4; ++k) x.push_back(std::ldexp(1.0f, k));
  std::vector<std::uint8_t> q(x.size());
  const auto n = static_cast<std::int64_t>(x.size());
  const QuantStats plain = quantize(x.data(), n, 1.0f, Fp8Format::e4m3, q.data());
  CHECK(plain.underflowed == 3);  // 2^-12, 2^-11, and 2^-10 (half of the smallest subnormal 2^-9: a tie with 0)
  const float scale = current_scale(amax(x.data(), n), Fp8Format::e4m3);
  CHECK(scale == 28.0f);
  const QuantStats scaled = quantize(x.data(), n, scale, Fp8Format::e4m3, q.data());
  CHECK(scaled.saturated == 0);
  CHECK(scaled.underflowed == 0);
  // Back through the inverse scale: within e4m3's relative rounding error, 2^-4 for
  // normals (half of 2^-3), larger in the subnormal range (28 * 2^-12 < 2^-6).
  std::vector<float> back(x.size());
  dequantize(q.data(), n, 1.0f / scale, Fp8Format::e4m3, back.data());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i] * 28.0;
    const double half_ulp = v >= 0x1p-6 ? 0x1p-4 * x[i] : 0x1p-10 / 28.0;
    // float(1/28) and the product each round by 2^-24 of a value below 1.07 |x|: < 2^-22 |x|.
    CHECK(std::fabs(double(back[i]) - double(x[i])) <= half_ulp + 0x1p-22 * x[i]);
  }
}

TEST_CASE("inf and NaN inputs are counted and mark the step's amax as NaN") {
  const std::vector<float> x = {1.0f, INFINITY, NAN, -2.0f};
  std::vector<std::uint8_t> q(x.size());
  const QuantStats s = quantize(x.data(), 4, 1.0f, Fp8Format::e5m2, q.data());
  CHECK(s.nonfinite == 2);
  CHECK(s.amax == 2.0f);
  CHECK(std::isnan(s.history_amax()));
  CHECK(q[1] == 0x7B);  // saturating: inf becomes the largest finite
  CHECK(q[2] == kFp8NaN);
}

TEST_CASE("per-block scaling gives each block its own scale") {
  // 2 x 5 values in blocks of 1 x 2 (and the odd column alone): each block's amax maps to 448.
  const std::vector<float> x = {1.0f, -2.0f, 8.0f, 4.0f, 0.5f,  //
                                0.0f, 0.0f, 3.0f, -0.25f, 1e-6f};
  std::vector<std::uint8_t> q(x.size());
  std::vector<float> inv(2 * 3);
  const QuantStats s = quantize_blocks(x.data(), 2, 5, 1, 2, Fp8Format::e4m3, q.data(), inv.data());
  CHECK(inv == std::vector<float>{2.0f / 448.0f, 8.0f / 448.0f, 0.5f / 448.0f,  //
                                  1.0f, 1.0f / (448.0f / 3.0f), 1.0f / (448.0f / 1e-6f)});
  CHECK(q[1] == 0xFE);  // -2 * 224 = -448
  CHECK(q[2] == 0x7E);
  CHECK(q[4] == 0x7E);
  CHECK(q[9] == 0x7E);  // a block of its own: 1e-6 is no longer lost
  CHECK(s.count == 10);
  CHECK(s.saturated == 0);
  CHECK(s.underflowed == 0);
  CHECK(s.amax == 8.0f);
}

TEST_CASE("128 x 128 blocks of a larger tensor and a bad block size") {
  std::vector<float> x(200 * 130);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i % 97) + 1) * (i < 128 * 130 ? 1.0f : 0.01f);
  std::vector<std::uint8_t> q(x.size());
  std::vector<float> inv(2 * 2);
  const QuantStats s = quantize_blocks(x.data(), 200, 130, 128, 128, Fp8Format::e4m3, q.data(), inv.data());
  CHECK(s.count == 200 * 130);
  CHECK(s.saturated == 0);
  CHECK(inv[0] == 1.0f / (448.0f / 97.0f));   // the first block holds every residue 1..97
  CHECK(inv[2] == 1.0f / (448.0f / (97.0f * 0.01f)));  // the rows below 128: scaled by 0.01
  CHECK_THROWS_WITH_AS(quantize_blocks(x.data(), 200, 130, 0, 128, Fp8Format::e4m3, q.data(), inv.data()),
                       "per-block scaling: expected blocks of at least 1 x 1, found 0 x 128", std::exception);
}
