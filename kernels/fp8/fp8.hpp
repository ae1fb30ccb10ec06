/// @file fp8.hpp
/// @brief The course's 8-bit float types, halfway::fp8_e4m3 and halfway::fp8_e5m2, and
/// their conversions to and from float (host, emulator and CUDA device code).
///
/// The conversions are CUDA's, bit for bit (proven on all 2^32 floats against
/// cuda_fp8.hpp's host code in chapter 09's tests):
///
///     float_to_e4m3_bits(f, Saturation::finite)   __nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E4M3)
///     float_to_e5m2_bits(f, Saturation::none)     __nv_cvt_float_to_fp8(f, __NV_NOSAT, __NV_E5M2)
///     e4m3_bits_to_float(b)                       float(__nv_fp8_e4m3 with bits b)
///
/// Rounding is to nearest, ties to even. NaN converts to 0x7F (sign dropped) and back to
/// the float 0x7FFFFFFF, as CUDA's host code does. The same code runs in kernels (under
/// nvcc too, where sm_89's conversion instructions would differ on NaN's sign), so a value
/// has the same fp8 bits on every backend.
///
/// The types hold raw bits, like halfway::half: 1 byte, bit-compatible with CUDA's
/// `__nv_fp8_e4m3` and `__nv_fp8_e5m2`. Converting from float saturates (Saturation::finite),
/// as CUDA's constructors do: scaled training never wants an overflow to become NaN.
#pragma once

#include <cstdint>
#include <type_traits>

#include "09_fp8/e4m3.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/fp8/format.hpp"

namespace halfway {

/// float to e5m2 bits, rounding to nearest, ties to even; overflow per `saturation`
/// (|f| >= 61440, the midpoint between 57344 and 65536, which ties to the even 65536:
/// +-inf with Saturation::none, +-57344 with Saturation::finite; infinities alike).
///
/// It counts rather than repacks (chapter 01's round-toward-zero works the same way): the
/// non-negative e5m2 values in increasing order have the codes 0, 1, 2, ..., and each
/// binade [2^e, 2^(e+1)) from e = -14 holds 4 of them spaced 2^(e-2), after 4 (e + 15)
/// smaller codes (the subnormals below 2^-14 are spaced 2^-16). With
/// e = max(floor(log2 |f|), -14), |f| / 2^(e-2) counts spacings; the FPU rounds it to an
/// integer r (to nearest even: adding and subtracting 2^23 leaves no fraction bits), and
///   code = 4 (e + 14) + r,
/// where r = 8 (a round up out of the binade) lands on the next binade's first code.
HALFWAY_HD inline std::uint8_t float_to_e5m2_bits(float f, Saturation saturation) {
  const std::uint32_t a = float_to_bits(f) & 0x7FFFFFFFu;        // |f|
  const auto sign = static_cast<std::uint8_t>(float_to_bits(f) >> 31 << 7);
  if (a > 0x7F800000u) return kFp8NaN;
  if (a >= 0x47700000u)  // |f| >= 61440 (inf included)
    return static_cast<std::uint8_t>(sign | (saturation == Saturation::finite ? 0x7Bu : 0x7Cu));
  int e = static_cast<int>(a >> 23) - 127;
  if (e < -14) e = -14;
  const float spacings = bits_to_float(a) * pow2f(2 - e);  // exact: a power-of-two scaling, < 8
  const float r = (spacings + 8388608.0f) - 8388608.0f;    // round to an integer, ties to even
  return static_cast<std::uint8_t>(sign | (4 * (e + 14) + static_cast<int>(r)));
}

/// fp8 bits to float, exactly (every fp8 value is a float). `exponent_bits` 4 or 5.
/// NaN gives 0x7FFFFFFF, as CUDA's host code does; e5m2's infinities stay infinities.
HALFWAY_HD inline float fp8_bits_to_float(std::uint8_t b, Fp8Format format) {
  const bool e4m3 = format == Fp8Format::e4m3;
  const std::uint32_t sign = static_cast<std::uint32_t>(b & 0x80u) << 24;
  const std::uint32_t mag = b & 0x7Fu;
  if (e4m3 ? mag == 0x7Fu : mag > 0x7Cu) return bits_to_float(0x7FFFFFFFu);
  if (!e4m3 && mag == 0x7Cu) return bits_to_float(sign | 0x7F800000u);
  const int mantissa_bits = e4m3 ? 3 : 2;
  const int bias = e4m3 ? 7 : 15;
  const std::uint32_t exponent = mag >> mantissa_bits;
  const std::uint32_t mantissa = mag & ((1u << mantissa_bits) - 1u);
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^(1 - bias - mantissa_bits), exact
    const float v = static_cast<float>(mantissa) * pow2f(1 - bias - mantissa_bits);
    return bits_to_float(sign | float_to_bits(v));
  }
  return bits_to_float(sign | ((exponent + 127u - static_cast<std::uint32_t>(bias)) << 23) |
                       (mantissa << (23 - mantissa_bits)));
}

HALFWAY_HD_INLINE float e4m3_bits_to_float(std::uint8_t b) { return fp8_bits_to_float(b, Fp8Format::e4m3); }
HALFWAY_HD_INLINE float e5m2_bits_to_float(std::uint8_t b) { return fp8_bits_to_float(b, Fp8Format::e5m2); }

/// float to fp8 bits in the format chosen at run time.
HALFWAY_HD_INLINE std::uint8_t float_to_fp8_bits(float f, Fp8Format format, Saturation saturation) {
  return format == Fp8Format::e4m3 ? float_to_e4m3_bits(f, saturation) : float_to_e5m2_bits(f, saturation);
}

/// Classification by bits.
HALFWAY_HD_INLINE constexpr bool fp8_is_nan(std::uint8_t b, Fp8Format format) {
  return format == Fp8Format::e4m3 ? (b & 0x7Fu) == 0x7Fu : (b & 0x7Fu) > 0x7Cu;
}
HALFWAY_HD_INLINE constexpr bool fp8_is_zero(std::uint8_t b) { return (b & 0x7Fu) == 0; }

/// An 8-bit float of format F: its raw bits, nothing else.
template <Fp8Format F>
struct fp8_value {
  std::uint8_t bits;  ///< the raw bit pattern

  fp8_value() = default;  ///< uninitialised, like a float; `fp8_e4m3{}` is +0
  /// Rounds to nearest even, saturating to +-max (NaN becomes 0x7F).
  HALFWAY_HD explicit fp8_value(float f) : bits(float_to_fp8_bits(f, F, Saturation::finite)) {}
  /// Exact.
  HALFWAY_HD explicit operator float() const { return fp8_bits_to_float(bits, F); }
  HALFWAY_HD static constexpr fp8_value from_bits(std::uint8_t b) {
    fp8_value v{};
    v.bits = b;
    return v;
  }
  static constexpr Fp8Format format = F;
};

/// e4m3 ("fn"): 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits; max 448, no inf.
using fp8_e4m3 = fp8_value<Fp8Format::e4m3>;
/// e5m2: 1 sign bit, 5 exponent bits (bias 15), 2 mantissa bits; max 57344, with inf.
using fp8_e5m2 = fp8_value<Fp8Format::e5m2>;

static_assert(sizeof(fp8_e4m3) == 1 && sizeof(fp8_e5m2) == 1);
static_assert(std::is_trivial_v<fp8_e4m3> && std::is_trivial_v<fp8_e5m2>);

template <Fp8Format F>
HALFWAY_HD_INLINE float to_float(fp8_value<F> v) {
  return static_cast<float>(v);
}

}  // namespace halfway
