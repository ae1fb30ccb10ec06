/// @file stochastic_round.hpp
/// @brief Chapter 05's exercise 05.2: stochastic rounding of an fp32 value to bf16 and fp16
/// from one 32-bit random word.
///
/// Round to nearest always picks the closer neighbour, so an update smaller than half a
/// spacing is lost every time. Stochastic rounding picks the upper neighbour (away from
/// zero) with probability (|x| - lo) / (hi - lo), where lo <= |x| < hi are the two
/// neighbours: the expected result is x itself, so small updates survive on average.
///
/// bf16 keeps the top 16 bits of a float. Adding a uniform 16-bit integer r to the low
/// 16 bits of |x|'s pattern carries into the kept bits exactly when r >= 2^16 - low bits,
/// i.e. with probability low / 2^16 = (|x| - lo) / (hi - lo); truncating then gives hi or lo.
/// A value already in bf16 has low bits 0 and never changes.
///
/// fp16 keeps 10 of float's 23 mantissa bits for normal values: the same trick with 13
/// dropped bits (r < 2^13) and an fp16 pattern built from the truncated float. Below fp16's
/// smallest normal (2^-14) the spacing is fixed at 2^-24, so more bits are dropped, up to
/// all of them; there, count in units of 2^-24 instead: k = |x| * 2^24 (exact: a power of
/// two), the result is floor(k) or floor(k) + 1 units, the latter with probability
/// k - floor(k). Results past fp16's largest value (65504) become inf, as the upper
/// neighbour 65536 does not exist in fp16. NaN and inf use round to nearest.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/exercise.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/fp16/half.hpp"

namespace halfway::optim {

/// x rounded to T (halfway::bfloat16 or halfway::half) with the 32-bit random word r.
template <class T>
HALFWAY_HD_INLINE T stochastic_round(float x, std::uint32_t r) {
  // BEGIN EXERCISE 05.2 (3 points): Stochastic rounding to bf16 and fp16
  // HINT: float_to_bits / bits_to_float are in kernels/fp16/bits.hpp; set `.bits` of a
  // HINT: bfloat16 or half to build a value from its bits.
  // HINT: r's top bits are the random fraction: bf16 adds r >> 16 (16 bits) to |x|'s
  // HINT: pattern, an fp16 normal adds r >> 19 (13 bits), then the dropped bits are cut.
  // HINT: Below 2^-14 (fp16 subnormals) use all 32 bits: with k = |x| * 2^24 units, round
  // HINT: up to floor(k) + 1 exactly when (k - floor(k)) * 2^32 > r (in double: exact).
  const std::uint32_t b = float_to_bits(x);
  if ((b & 0x7f800000u) == 0x7f800000u) return T(x);  // inf, NaN: round to nearest
  T out;
  if constexpr (std::is_same_v<T, bfloat16>) {
    // |x| + r: the largest finite magnitude plus < 2^16 reaches at most inf's pattern
    const std::uint32_t up = ((b & 0x7fffffffu) + (r >> 16)) & 0xffff0000u;
    out.bits = std::uint16_t(((b & 0x80000000u) | up) >> 16);
    return out;
  } else {
    const std::uint16_t sign = std::uint16_t((b >> 16) & 0x8000u);
    const float a = bits_to_float(b & 0x7fffffffu);
    if (a < 0x1p-14f) {
      // subnormal range: units of 2^-24 (k < 1024; its fraction has at most 47 bits, so
      // comparing it with r / 2^32 in double is exact)
      const double k = double(a) * 0x1p24;
      const double whole = double(std::uint32_t(k));
      const std::uint32_t units = std::uint32_t(whole) + ((k - whole) * 0x1p32 > double(r) ? 1u : 0u);
      out.bits = std::uint16_t(sign | units);  // 1024 units is 2^-14, the smallest normal
      return out;
    }
    const std::uint32_t t = ((b & 0x7fffffffu) + (r >> 19)) & 0xffffe000u;  // 13 dropped bits
    const float kept = bits_to_float(t);                                    // on fp16's grid
    out.bits = std::uint16_t(sign | (kept >= 65536.0f ? 0x7c00u : half(kept).bits));  // exact
    return out;
  }
  // END EXERCISE 05.2
}

}  // namespace halfway::optim
