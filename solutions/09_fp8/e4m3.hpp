/// @file e4m3.hpp
/// @brief Chapter 09's exercise 09.1: float to e4m3, rounding to nearest even, saturating
/// or not, bit for bit as CUDA's `__nv_cvt_float_to_fp8(x, ..., __NV_E4M3)`.
///
/// e4m3 ("fn"): 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits. Unlike fp16 it has
/// no infinity: the top exponent (1111) holds the values 256 to 448, and only S.1111.111
/// is NaN. So the largest finite value is 448 = 1.75 * 2^8 (code 0x7E), and the
/// threshold where rounding leaves the format is 448 + 16 = 464 (half of the top spacing,
/// 32): 464 itself is a tie that goes to even, 448.
///
/// Everything in the course that stores a value in e4m3 goes through this function
/// (halfway::fp8_e4m3, the scaling recipes' quantizers), so chapter 09 runs on your code.
///
/// CUDA's rules, which the exhaustive test holds you to:
/// - NaN gives 0x7F, whatever the NaN's sign (CUDA makes every NaN positive first);
/// - |f| > 464, infinities included: Saturation::finite gives +-448 (0x7E | sign),
///   Saturation::none gives 0x7F | sign (NaN: e4m3 has no infinity to overflow to);
/// - |f| <= 2^-10 (half the smallest subnormal 2^-9, a tie with 0) gives +-0.
#pragma once

#include <cstdint>

#include "common/exercise.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/fp8/format.hpp"

namespace halfway {

/// float to e4m3 bits, rounding to nearest, ties to even; overflow per `saturation`.
HALFWAY_HD inline std::uint8_t float_to_e4m3_bits(float f, Saturation saturation) {
  // BEGIN EXERCISE 09.1 (4 points): Float to e4m3, round to nearest even, saturating
  // HINT: as 01.1, on the bits: NaN first, then too large (above 464, infinities too),
  // HINT: then normal e4m3 (|f| >= 2^-6: rebias the exponent 127 -> 7, keep 3 mantissa
  // HINT: bits, round the 20 dropped ones), then subnormals (multiples of 2^-9).
  const std::uint32_t x = float_to_bits(f);
  const std::uint8_t sign = static_cast<std::uint8_t>((x >> 24) & 0x80u);
  const std::uint32_t a = x & 0x7FFFFFFFu;  // the bits of |f|

  if (a > 0x7F800000u) return kFp8NaN;  // NaN: CUDA's 0x7F, sign dropped
  if (a > 0x43E80000u)                  // |f| > 464 (inf included): beyond rounding to 448
    return static_cast<std::uint8_t>(sign | (saturation == Saturation::finite ? 0x7Eu : 0x7Fu));

  if (a >= 0x3C800000u) {  // |f| >= 2^-6: a normal e4m3
    // Rebias (subtract (127 - 7) << 23) and keep the top 3 mantissa bits in one shift.
    std::uint32_t h = (a - 0x3C000000u) >> 20;
    const std::uint32_t dropped = a & 0xFFFFFu;  // the 20 bits that do not fit
    // A carry out of the mantissa bumps the exponent (0x0F + 1 = 0x10 = 2^-5, right);
    // |f| <= 464 never carries past 0x7E: 464 is a tie and 0x7E is even.
    if (dropped > 0x80000u || (dropped == 0x80000u && (h & 1u))) ++h;
    return static_cast<std::uint8_t>(sign | h);
  }

  // |f| < 2^-6: a subnormal e4m3, a multiple of 2^-9. |f| <= 2^-10 rounds to zero.
  if (a <= 0x3A800000u) return sign;
  const std::uint32_t e = a >> 23;                      // biased exponent, 117..120
  const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;  // significand with its hidden 1
  // |f| = m * 2^(e - 150) = (m >> (141 - e)) * 2^-9, plus what the shift drops.
  const std::uint32_t shift = 141u - e;  // 21..24
  std::uint32_t h = m >> shift;
  const std::uint32_t dropped = m & ((1u << shift) - 1u);
  const std::uint32_t tie = 1u << (shift - 1u);
  // Rounding 0x07 up gives 0x08: the smallest normal, again the right answer.
  if (dropped > tie || (dropped == tie && (h & 1u))) ++h;
  return static_cast<std::uint8_t>(sign | h);
  // END EXERCISE 09.1
}

}  // namespace halfway
