// The two roundings of the 16-bit fused multiply-add (see half.hpp).
#include "common/emu/half.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace halfway::simt::detail {

double fma_round_odd(double a, double b, double c) {
  const double p = a * b;  // exact: two 11-bit (or 8-bit) significands fit in 53 bits
  const double s = p + c;
  if (!std::isfinite(s)) return s;
  // TwoSum: s + e == p + c exactly.
  const double bv = s - p;
  const double e = (p - (s - bv)) + (c - bv);
  if (e == 0.0) return s;
  std::uint64_t u;
  std::memcpy(&u, &s, 8);
  if ((u & 1u) == 0) return std::nextafter(s, e > 0 ? INFINITY : -INFINITY);  // make it odd
  return s;
}

float round_odd_to_float(double d) {
  const float f = static_cast<float>(d);
  if (!std::isfinite(f) || static_cast<double>(f) == d) return f;
  if ((f32_bits(f) & 1u) == 0) return std::nextafter(f, d > f ? INFINITY : -INFINITY);
  return f;
}

}  // namespace halfway::simt::detail
