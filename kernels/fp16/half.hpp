/// @file half.hpp
/// @brief The course's 16-bit storage types, halfway::half (IEEE binary16, "fp16") and
/// halfway::bfloat16 ("bf16"), and helpers to look inside them.
///
/// Both hold raw bits and nothing else: trivially copyable, standard layout, 2 bytes,
/// bit-compatible with CUDA's `__half` and `__nv_bfloat16`, so a buffer of halfway::half
/// can be handed to a kernel that reads `__half`. They are storage types: the course
/// computes in float (see the precision policy in CONTRIBUTING.md), so converting is explicit:
///
/// ```
/// halfway::half h(0.1f);         // round to nearest even: bits 0x2E66
/// float x = halfway::to_float(h);  // 0.0999755859375, exactly
/// ```
///
/// On the host and in emulated kernels every conversion runs chapter 01's hand-written
/// code (01_fp16/convert.hpp, the exercises). Under nvcc, device code uses the
/// hardware's conversion instructions instead: the same result for every non-NaN value
/// (the cast kernels of cast.hpp call the hand-written ones everywhere, NaN bits included).
///
/// In a kernel that works with CUDA's types, reinterpret a `halfway::half*` as `__half*`
/// (same size, alignment and bits); under nvcc `half(__half)` and `__half(h)` convert one
/// value. CUDA's headers also declare a global `half` (a typedef of `__half`): outside
/// namespace halfway, in a file that includes them, write `halfway::half`.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "01_fp16/convert.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/bits.hpp"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace halfway {

/// float to fp16 bits, rounding toward zero (truncating the dropped bits): for comparison
/// with round to nearest even. Finite values too large for fp16 give +-65504 (the largest
/// finite half, as IEEE's round toward zero does); inf stays inf; NaN gives 0x7FFF.
///
/// It counts instead of repacking fields: the non-negative halves, in increasing order,
/// have the bit patterns 0, 1, 2, ..., 0x7BFF, so the answer for |f| is the index of the
/// largest half not above it. Halves below 2^-13 are spaced 2^-24 (index = |f| / 2^-24);
/// from there each binade [2^e, 2^(e+1)) holds 1024 of them spaced 2^(e-10), after
/// 1024 (e + 14) smaller ones. One formula covers both, with e = max(floor(log2 |f|), -14):
///   index = 1024 (e + 14) + floor(|f| * 2^(10 - e)),
/// where the product is exact (a power of two) and the float-to-integer cast truncates.
HALFWAY_HD inline std::uint16_t float_to_half_bits_rtz(float f) {
  const std::uint32_t bits = float_to_bits(f);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const float v = bits_to_float(bits & 0x7FFFFFFFu);  // |f|
  if (v != v) return 0x7FFF;                             // NaN
  if (v == bits_to_float(0x7F800000u)) return static_cast<std::uint16_t>(sign | 0x7C00u);
  const float c = v < 65504.0f ? v : 65504.0f;  // finite overflow stops at the largest half
  const int binade = static_cast<int>(float_to_bits(c) >> 23) - 127;  // floor(log2 c) for c >= 2^-126
  const int e = binade > -14 ? binade : -14;
  const float scale = bits_to_float(static_cast<std::uint32_t>(127 + 10 - e) << 23);  // 2^(10-e), exact
  const auto index = static_cast<std::uint32_t>(1024 * (e + 14)) + static_cast<std::uint32_t>(c * scale);
  return static_cast<std::uint16_t>(sign | index);
}

/// bf16 bits to float: exact, the bits become the top half of the float (NaN included).
HALFWAY_HD inline float bf16_bits_to_float(std::uint16_t b) {
  return bits_to_float(static_cast<std::uint32_t>(b) << 16);
}

/// IEEE binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
struct half {
  std::uint16_t bits;  ///< the raw bit pattern

  half() = default;  ///< uninitialised, like a float; `half{}` is +0
  /// Rounds to nearest, ties to even (NaN becomes 0x7FFF).
  HALFWAY_HD explicit half(float f) {
#if defined(__CUDA_ARCH__)
    bits = __half_as_ushort(__float2half_rn(f));
#else
    bits = float_to_half_bits(f);
#endif
  }
  /// Exact.
  HALFWAY_HD explicit operator float() const {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(bits));
#else
    return half_bits_to_float(bits);
#endif
  }
  HALFWAY_HD static constexpr half from_bits(std::uint16_t b) {
    half h{};
    h.bits = b;
    return h;
  }
#if defined(__CUDACC__)
  HALFWAY_HD explicit half(__half h) : bits(__half_raw(h).x) {}
  HALFWAY_HD explicit operator __half() const {
    __half_raw r;
    r.x = bits;
    return __half(r);
  }
#endif
};

/// bfloat16: 1 sign bit, 8 exponent bits (bias 127, as fp32), 7 mantissa bits.
struct bfloat16 {
  std::uint16_t bits;  ///< the raw bit pattern

  bfloat16() = default;  ///< uninitialised, like a float; `bfloat16{}` is +0
  /// Rounds to nearest, ties to even (NaN becomes 0x7FFF).
  HALFWAY_HD explicit bfloat16(float f) {
#if defined(__CUDA_ARCH__)
    bits = __bfloat16_as_ushort(__float2bfloat16_rn(f));
#else
    bits = float_to_bf16_bits(f);
#endif
  }
  /// Exact.
  HALFWAY_HD explicit operator float() const { return bf16_bits_to_float(bits); }
  HALFWAY_HD static constexpr bfloat16 from_bits(std::uint16_t b) {
    bfloat16 h{};
    h.bits = b;
    return h;
  }
#if defined(__CUDACC__)
  HALFWAY_HD explicit bfloat16(__nv_bfloat16 h) : bits(__nv_bfloat16_raw(h).x) {}
  HALFWAY_HD explicit operator __nv_bfloat16() const {
    __nv_bfloat16_raw r;
    r.x = bits;
    return __nv_bfloat16(r);
  }
#endif
};

/// Two halves side by side, 4-byte aligned like CUDA's `__half2`: one 32-bit load or store.
struct alignas(4) half2 {
  half x, y;
};
/// Two bfloat16 side by side, like CUDA's `__nv_bfloat162`.
struct alignas(4) bfloat162 {
  bfloat16 x, y;
};

static_assert(sizeof(half) == 2 && sizeof(bfloat16) == 2 && sizeof(half2) == 4);
static_assert(std::is_trivially_copyable_v<half> && std::is_standard_layout_v<half>);
static_assert(std::is_trivially_copyable_v<bfloat16> && std::is_standard_layout_v<bfloat16>);
static_assert(std::is_trivial_v<half> && std::is_trivial_v<bfloat16>);
#if defined(__CUDACC__)
static_assert(sizeof(half) == sizeof(__half) && alignof(half) == alignof(__half));
static_assert(sizeof(half2) == sizeof(__half2) && alignof(half2) == alignof(__half2));
static_assert(sizeof(bfloat16) == sizeof(__nv_bfloat16));
#endif

HALFWAY_HD inline float to_float(half h) { return static_cast<float>(h); }
HALFWAY_HD inline float to_float(bfloat16 b) { return static_cast<float>(b); }

// ---------------------------------------------------------------------------------------
// Looking inside a format

/// The shape of a binary floating-point format.
struct FloatFormat {
  const char* name;   ///< "fp32", "fp16", "bf16"
  int exponent_bits;  ///< 8, 5, 8
  int mantissa_bits;  ///< 23, 10, 7 (the stored bits, without the hidden 1)

  constexpr int total_bits() const { return 1 + exponent_bits + mantissa_bits; }
  constexpr int bias() const { return (1 << (exponent_bits - 1)) - 1; }
  constexpr int min_exponent() const { return 1 - bias(); }  ///< of the smallest normal
  constexpr int max_exponent() const { return bias(); }      ///< of the largest finite
  /// The largest finite value: (2 - 2^-m) * 2^emax.
  double max_finite() const {
    return std::ldexp(2.0 - std::ldexp(1.0, -mantissa_bits), max_exponent());
  }
  double min_normal() const { return std::ldexp(1.0, min_exponent()); }
  double min_subnormal() const { return std::ldexp(1.0, min_exponent() - mantissa_bits); }
  /// The gap between 1 and the next value: 2^-m.
  double epsilon() const { return std::ldexp(1.0, -mantissa_bits); }
};

inline constexpr FloatFormat kFp32{"fp32", 8, 23};
inline constexpr FloatFormat kFp16{"fp16", 5, 10};
inline constexpr FloatFormat kBf16{"bf16", 8, 7};

/// A bit pattern split into its fields.
struct Fields {
  std::uint32_t sign;      ///< 0 or 1
  std::uint32_t exponent;  ///< the biased exponent field
  std::uint32_t mantissa;  ///< the stored mantissa bits
};

/// Splits the low `format.total_bits()` bits of `bits`.
constexpr Fields fields(const FloatFormat& format, std::uint32_t bits) {
  const int m = format.mantissa_bits, e = format.exponent_bits;
  return Fields{(bits >> (m + e)) & 1u, (bits >> m) & ((1u << e) - 1u), bits & ((1u << m) - 1u)};
}
inline Fields fields(half h) { return fields(kFp16, h.bits); }
inline Fields fields(bfloat16 b) { return fields(kBf16, b.bits); }
inline Fields fields(float f) { return fields(kFp32, float_to_bits(f)); }

/// The fields as text, e.g. "0 01111 0000000000" for fp16's 1.0.
std::string bits_string(const FloatFormat& format, std::uint32_t bits);

// Classification by bits: no conversion needed.
HALFWAY_HD constexpr bool is_nan(half h) { return (h.bits & 0x7FFFu) > 0x7C00u; }
HALFWAY_HD constexpr bool is_inf(half h) { return (h.bits & 0x7FFFu) == 0x7C00u; }
HALFWAY_HD constexpr bool is_finite(half h) { return (h.bits & 0x7C00u) != 0x7C00u; }
HALFWAY_HD constexpr bool is_zero(half h) { return (h.bits & 0x7FFFu) == 0; }
HALFWAY_HD constexpr bool is_subnormal(half h) {
  return (h.bits & 0x7C00u) == 0 && (h.bits & 0x03FFu) != 0;
}
HALFWAY_HD constexpr bool is_nan(bfloat16 b) { return (b.bits & 0x7FFFu) > 0x7F80u; }
HALFWAY_HD constexpr bool is_inf(bfloat16 b) { return (b.bits & 0x7FFFu) == 0x7F80u; }
HALFWAY_HD constexpr bool is_finite(bfloat16 b) { return (b.bits & 0x7F80u) != 0x7F80u; }
HALFWAY_HD constexpr bool is_zero(bfloat16 b) { return (b.bits & 0x7FFFu) == 0; }
HALFWAY_HD constexpr bool is_subnormal(bfloat16 b) {
  return (b.bits & 0x7F80u) == 0 && (b.bits & 0x007Fu) != 0;
}

/// The next representable value above `h` (toward +inf). Within one sign, consecutive
/// values have consecutive bit patterns, so this is +1 or -1 on the bits.
/// next_up(-0) and next_up(+0) are the smallest subnormal; +inf and NaN are returned as is.
constexpr half next_up(half h) {
  const std::uint16_t b = h.bits;
  if (is_nan(h) || b == 0x7C00u) return h;
  if ((b & 0x7FFFu) == 0) return half::from_bits(0x0001);
  return half::from_bits(static_cast<std::uint16_t>((b & 0x8000u) ? b - 1 : b + 1));
}
/// The next representable value below `h` (toward -inf).
constexpr half next_down(half h) {
  const std::uint16_t b = h.bits;
  if (is_nan(h) || b == 0xFC00u) return h;
  if ((b & 0x7FFFu) == 0) return half::from_bits(0x8001);
  return half::from_bits(static_cast<std::uint16_t>((b & 0x8000u) ? b + 1 : b - 1));
}
constexpr bfloat16 next_up(bfloat16 v) {
  const std::uint16_t b = v.bits;
  if (is_nan(v) || b == 0x7F80u) return v;
  if ((b & 0x7FFFu) == 0) return bfloat16::from_bits(0x0001);
  return bfloat16::from_bits(static_cast<std::uint16_t>((b & 0x8000u) ? b - 1 : b + 1));
}
constexpr bfloat16 next_down(bfloat16 v) {
  const std::uint16_t b = v.bits;
  if (is_nan(v) || b == 0xFF80u) return v;
  if ((b & 0x7FFFu) == 0) return bfloat16::from_bits(0x8001);
  return bfloat16::from_bits(static_cast<std::uint16_t>((b & 0x8000u) ? b + 1 : b - 1));
}

/// The unit in the last place of `format` at the real number x: the spacing of the
/// format's values in the binade of |x|, i.e. 2^(max(floor(log2|x|), emin) - m).
/// Subnormals and zero share the smallest spacing; beyond the largest finite value the
/// spacing of the top binade is returned. NaN gives NaN, inf gives inf.
double ulp(const FloatFormat& format, double x);
inline double ulp(half h) { return ulp(kFp16, to_float(h)); }
inline double ulp(bfloat16 b) { return ulp(kBf16, to_float(b)); }
inline double ulp(float f) { return ulp(kFp32, f); }

}  // namespace halfway
