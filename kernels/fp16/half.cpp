#include "kernels/fp16/half.hpp"

#include <cmath>
#include <limits>

namespace halfway {

std::string bits_string(const FloatFormat& format, std::uint32_t bits) {
  std::string s;
  for (int i = format.total_bits() - 1; i >= 0; --i) {
    s += ((bits >> i) & 1u) ? '1' : '0';
    if (i == format.total_bits() - 1 || i == format.mantissa_bits) s += ' ';
  }
  return s;
}

double ulp(const FloatFormat& format, double x) {
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return std::numeric_limits<double>::infinity();
  int e = format.min_exponent();
  if (x != 0) e = std::max(std::ilogb(x), format.min_exponent());
  e = std::min(e, format.max_exponent());
  return std::ldexp(1.0, e - format.mantissa_bits);
}

}  // namespace halfway
