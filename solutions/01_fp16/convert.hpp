/// @file convert.hpp
/// @brief Chapter 01's exercises: the conversions between float and the 16-bit formats.
///
/// Everything in the course that stores a value in fp16 or bf16 goes through these three
/// functions (halfway::half and halfway::bfloat16 in kernels/fp16/half.hpp, the cast
/// kernels, the trainer's fp16 weights), so the whole course runs on your code.
///
/// Formats (sign / exponent / mantissa bits, exponent bias):
/// - fp32: 1 / 8 / 23, bias 127
/// - fp16: 1 / 5 / 10, bias 15
/// - bf16: 1 / 8 / 7,  bias 127 (the top half of an fp32)
///
/// NaN policy of the course: every NaN converted to fp16 or bf16 becomes the canonical
/// quiet NaN 0x7FFF (sign and payload dropped), as CUDA does on the host and the GPU.
/// fp16 to float keeps a NaN's sign and payload and sets the quiet bit, as x86's F16C does.
#pragma once

#include <cstdint>

#include "common/exercise.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/bits.hpp"

namespace halfway {

/// float to fp16 bits, rounding to nearest, ties to even. |f| >= 65520 gives +-inf,
/// |f| <= 2^-25 gives +-0, values below 2^-14 become subnormal; NaN gives 0x7FFF.
HALFWAY_HD inline std::uint16_t float_to_half_bits(float f) {
  // BEGIN EXERCISE 01.1 (4 points): Float to half, round to nearest even
  // HINT: work on the bits (float_to_bits). Handle NaN, then too large, then normal
  // HINT: halves (rebias the exponent, keep 10 mantissa bits, round the 13 dropped ones),
  // HINT: then subnormals (shift the 24-bit significand right, round what falls off).
  const std::uint32_t x = float_to_bits(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t a = x & 0x7FFFFFFFu;  // the bits of |f|

  if (a > 0x7F800000u) return 0x7FFF;           // NaN: the canonical quiet NaN
  if (a >= 0x47800000u) return sign | 0x7C00u;  // |f| >= 2^16 (or inf): inf

  if (a >= 0x38800000u) {  // |f| >= 2^-14: a normal half
    // Rebias the exponent (127 -> 15, i.e. subtract 112 << 23) and keep the top 10
    // mantissa bits; the exponent and mantissa fields line up in one shift.
    std::uint32_t h = (a - 0x38000000u) >> 13;
    const std::uint32_t dropped = a & 0x1FFFu;  // the 13 bits that do not fit
    // Round to nearest; on a tie (exactly 0x1000) round to the even neighbour. A carry
    // out of the mantissa bumps the exponent, which is right: 0x3BFF + 1 = 0x3C00 = 1.0,
    // and 65520 <= |f| < 65536 carries 0x7BFF into 0x7C00 = inf.
    if (dropped > 0x1000u || (dropped == 0x1000u && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }

  // |f| < 2^-14: a subnormal half, a multiple of 2^-24. |f| < 2^-25 rounds to zero
  // (exactly 2^-25 is a tie between 0 and 2^-24, and 0 is even).
  if (a < 0x33000000u) return sign;
  const std::uint32_t e = a >> 23;                     // biased exponent, 102..112
  const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;  // significand with its hidden 1
  // |f| = m * 2^(e - 150) = (m >> (126 - e)) * 2^-24, plus what the shift drops.
  const std::uint32_t shift = 126u - e;  // 14..24
  std::uint32_t h = m >> shift;
  const std::uint32_t dropped = m & ((1u << shift) - 1u);
  const std::uint32_t tie = 1u << (shift - 1u);
  // Rounding 0x3FF up gives 0x400: the smallest normal, again the right answer.
  if (dropped > tie || (dropped == tie && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
  // END EXERCISE 01.1
}

/// fp16 bits to float. Exact: every half value is a float. Subnormal halves become
/// normal floats; NaN keeps its sign and payload and becomes quiet.
HALFWAY_HD inline float half_bits_to_float(std::uint16_t h) {
  // BEGIN EXERCISE 01.2 (3 points): Half to float, exactly
  // HINT: split sign, 5-bit exponent and 10-bit mantissa. Normal: rebias the exponent
  // HINT: (15 -> 127) and shift the mantissa up by 13. Exponent 31: inf or NaN.
  // HINT: Exponent 0: zero, or a subnormal m * 2^-24 that you normalise.
  const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1Fu;
  std::uint32_t m = h & 0x3FFu;

  std::uint32_t bits;
  if (e == 0x1Fu) {  // inf, or NaN: keep the payload, set the quiet bit
    bits = sign | 0x7F800000u | (m << 13) | (m != 0 ? 0x00400000u : 0u);
  } else if (e != 0) {  // normal: 2^(e-15) * 1.m = 2^((e+112)-127) * 1.m
    bits = sign | ((e + 112u) << 23) | (m << 13);
  } else if (m == 0) {  // +-0
    bits = sign;
  } else {  // subnormal m * 2^-24: shift m until its leading 1 reaches the hidden bit
    std::uint32_t exponent = 113;  // the biased float exponent of 2^-14
    while ((m & 0x400u) == 0) {
      m <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((m & 0x3FFu) << 13);
  }
  return bits_to_float(bits);
  // END EXERCISE 01.2
}

/// float to bf16 bits, rounding to nearest, ties to even. bf16 has fp32's exponent, so
/// only the mantissa is rounded (the largest floats round up to inf); NaN gives 0x7FFF.
HALFWAY_HD inline std::uint16_t float_to_bf16_bits(float f) {
  // BEGIN EXERCISE 01.3 (2 points): Float to bf16, round to nearest even
  // HINT: bf16 is the top 16 bits of the float. Round the bottom 16: add 0x7FFF, plus 1
  // HINT: when the lowest kept bit is 1 (ties to even), then shift. NaN first.
  const std::uint32_t x = float_to_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FFF;  // NaN: the canonical quiet NaN
  const std::uint32_t lowest_kept = (x >> 16) & 1u;
  // Adding 0x7FFF carries into bit 16 exactly when the dropped bits exceed 0x8000;
  // the extra 1 makes a tie (0x8000) carry only when the kept part is odd.
  return static_cast<std::uint16_t>((x + 0x7FFFu + lowest_kept) >> 16);
  // END EXERCISE 01.3
}

}  // namespace halfway
