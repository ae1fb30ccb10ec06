// Inputs for the cast tests: every edge value of fp16 and bf16, then deterministic values
// spread over all magnitudes (log-uniform from 2^-40 to 2^40, both signs).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/fp16/cast.hpp"

namespace halfway {

inline std::vector<float> cast_edge_values() {
  const float inf = std::numeric_limits<float>::infinity();
  return {0.0f, -0.0f, 1.0f, -1.0f, 0.1f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e10f,
          inf, -inf, std::numeric_limits<float>::quiet_NaN(), bits_to_float(0xFFC00001),
          std::ldexp(1.0f, -14), 1023 * std::ldexp(1.0f, -24), 1023.5f * std::ldexp(1.0f, -24),
          std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), -std::ldexp(1.0f, -25), 1e-8f,
          1.0f + std::ldexp(1.0f, -11), 2049.0f, bits_to_float(0x7F7FFFFF),
          bits_to_float(0x7F7F8000), bits_to_float(0x3F808000), bits_to_float(0x00000001),
          bits_to_float(0x00008000), 1e-39f};
}

/// n values: the edge values first (as many as fit), then a deterministic spread.
inline std::vector<float> cast_test_inputs(std::size_t n, std::uint64_t seed) {
  std::vector<float> v = cast_edge_values();
  v.resize(std::min(v.size(), n));
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  while (v.size() < n) {
    s ^= s << 13;  // xorshift64
    s ^= s >> 7;
    s ^= s << 17;
    const double u = static_cast<double>(s >> 11) * 0x1p-53;  // [0, 1)
    const float magnitude = static_cast<float>(std::exp2(-40.0 + 80.0 * u));
    v.push_back((s & 1) ? -magnitude : magnitude);
  }
  return v;
}

inline CastCounts expected_counts_f16(const std::vector<float>& in) {
  CastCounts c;
  for (float x : in) {
    const unsigned what = cast_outcome_f16(x, float_to_half_bits(x));
    c.overflow += what & 1u;
    c.flushed += (what >> 1) & 1u;
    c.subnormal += (what >> 2) & 1u;
  }
  return c;
}

inline CastCounts expected_counts_bf16(const std::vector<float>& in) {
  CastCounts c;
  for (float x : in) {
    const unsigned what = cast_outcome_bf16(x, float_to_bf16_bits(x));
    c.overflow += what & 1u;
    c.flushed += (what >> 1) & 1u;
    c.subnormal += (what >> 2) & 1u;
  }
  return c;
}

}  // namespace halfway
