/// @file format.hpp
/// @brief The two 8-bit float formats (e4m3, e5m2): their shapes, limits and overflow modes.
///
/// Formats (sign / exponent / mantissa bits, exponent bias), as on Hopper and in OCP FP8:
/// - e4m3 (the "fn" variant): 1 / 4 / 3, bias 7. No infinity: the top exponent holds
///   ordinary values up to 448 = 1.75 * 2^8, and only S.1111.111 (0x7F, 0xFF) is NaN.
///   Smallest normal 2^-6, smallest subnormal 2^-9.
/// - e5m2: 1 / 5 / 2, bias 15, IEEE-like: fp16's exponent with 2 mantissa bits (an e5m2
///   is the top byte of an fp16). Max 57344 = 1.75 * 2^15, inf 0x7C, NaN 0x7D..0x7F.
///   Smallest normal 2^-14, smallest subnormal 2^-16.
///
/// Nothing here depends on the exercises: chapter 09's conversion (09_fp8/e4m3.hpp) and
/// the library (kernels/fp8/fp8.hpp) both include it.
#pragma once

#include <cstdint>

#include "common/hd.hpp"
#include "kernels/fp16/bits.hpp"

namespace halfway {

/// What a conversion does with a value too large for the format, as CUDA's
/// `__nv_cvt_float_to_fp8(x, __NV_SATFINITE or __NV_NOSAT, ...)`.
enum class Saturation : std::uint8_t {
  finite,  ///< __NV_SATFINITE: clamp to +-max (infinities too): what scaled training uses
  none,    ///< __NV_NOSAT: overflow gives e5m2's +-inf, or e4m3's NaN (0x7F | sign)
};

/// Which 8-bit format a buffer of fp8 bytes holds.
enum class Fp8Format : std::uint8_t { e4m3, e5m2 };

inline constexpr float kE4m3Max = 448.0f;    ///< the largest finite e4m3
inline constexpr float kE5m2Max = 57344.0f;  ///< the largest finite e5m2

/// CUDA's NaN for every conversion to fp8: 0x7F in both formats (a NaN's sign is dropped).
inline constexpr std::uint8_t kFp8NaN = 0x7F;

HALFWAY_HD_INLINE constexpr float fp8_max(Fp8Format f) {
  return f == Fp8Format::e4m3 ? kE4m3Max : kE5m2Max;
}
/// "e4m3" or "e5m2".
HALFWAY_HD_INLINE constexpr const char* to_string(Fp8Format f) {
  return f == Fp8Format::e4m3 ? "e4m3" : "e5m2";
}

/// 2^k as a float, exactly, for -126 <= k <= 127 (built from its exponent field).
HALFWAY_HD_INLINE float pow2f(int k) {
  return bits_to_float(static_cast<std::uint32_t>(127 + k) << 23);
}

}  // namespace halfway
