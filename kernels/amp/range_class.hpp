/// @file range_class.hpp
/// @brief The class of one value stored in fp16 or bf16 (numerics.hpp): shared by the
/// cpu loop and the kernel, so both count with the very same rule.
#pragma once

#include <cstdint>

#include "common/hd.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/fp16/half.hpp"

namespace halfway::amp {

/// 0 exact_zero, 1 underflow, 2 subnormal, 3 normal, 4 overflow, 5 nonfinite.
HALFWAY_HD_INLINE int range_class(float x, bool to_bf16, float scale) {
  const std::uint32_t xb = float_to_bits(x);
  if ((xb & 0x7f800000u) == 0x7f800000u) return 5;
  if ((xb & 0x7fffffffu) == 0) return 0;
  // The stored bits' exponent and mantissa fields decide the class.
  std::uint32_t exp_field, man_field, exp_max;
  if (to_bf16) {
    const std::uint16_t h = static_cast<bfloat16>(x * scale).bits;
    exp_field = (h >> 7) & 0xffu, man_field = h & 0x7fu, exp_max = 0xffu;
  } else {
    const std::uint16_t h = static_cast<half>(x * scale).bits;
    exp_field = (h >> 10) & 0x1fu, man_field = h & 0x3ffu, exp_max = 0x1fu;
  }
  if (exp_field == exp_max) return 4;  // x * scale rounded to inf
  if (exp_field == 0) return man_field == 0 ? 1 : 2;
  return 3;
}

}  // namespace halfway::amp
