/// @file half.hpp
/// @brief CUDA's 16-bit float types for the emulator: __half, __half2, __nv_bfloat16,
/// __nv_bfloat162, their conversions and arithmetic.
///
/// Storage is the raw 16-bit pattern, bit-compatible with CUDA's types (same size and
/// alignment), so buffers pass between host code, the emulator and a GPU unchanged.
///
/// Rounding: every conversion to a 16-bit type rounds to nearest even. half<->float uses
/// the compiler's `_Float16` (hardware or libgcc), not the course's hand-written
/// conversion (chapter 01 teaches that one separately and tests it against this).
/// Arithmetic computes in fp32 and rounds once: for + - * / and sqrt that is the correctly
/// rounded 16-bit result (fp32 has more than 2p+2 bits); __hfma rounds once from an exact
/// sum (round-to-odd), like the hardware's fused multiply-add. Transcendentals (hexp,
/// hlog ...) round the fp32 libm result; a GPU's approximations may differ by an ulp.
///
/// NaN policy: every conversion of a NaN gives the canonical 0x7FFF (CUDA's choice).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/emu/types.hpp"

namespace halfway::simt {

struct __half_raw {
  unsigned short x;
};
struct __half2_raw {
  unsigned short x, y;
};
struct __nv_bfloat16_raw {
  unsigned short x;
};
struct __nv_bfloat162_raw {
  unsigned short x, y;
};

namespace detail {

inline std::uint32_t f32_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline unsigned short f32_to_f16(float f) {
  if (f != f) return 0x7fff;
  _Float16 h = static_cast<_Float16>(f);
  unsigned short b;
  std::memcpy(&b, &h, 2);
  return b;
}
inline unsigned short f64_to_f16(double d) {
  if (d != d) return 0x7fff;
  _Float16 h = static_cast<_Float16>(d);  // one rounding, straight from double
  unsigned short b;
  std::memcpy(&b, &h, 2);
  return b;
}
inline float f16_to_f32(unsigned short b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}

// The FPU rounds for us (as _Float16 does for fp16), not bit arithmetic on the pattern
// (that is exercise 01.3's). bf16 keeps 8 significant bits: for 2^L <= |f| < 2^(L+1)
// (L >= -126, bf16's subnormal spacing below), adding 2^(L+45) in double leaves a sum whose
// last place is 2^(L-7), bf16's spacing there, so the addition rounds |f| to nearest even
// on bf16's grid in one step, and subtracting 2^(L+45) again is exact (Sterbenz).
inline unsigned short f32_to_bf16(float f) {
  if (f != f) return 0x7fff;
  if (std::isinf(f)) return static_cast<unsigned short>(f32_bits(f) >> 16);
  int e = 0;
  std::frexp(f, &e);  // |f| = m 2^e with 1/2 <= m < 1: L = e - 1
  const double magic = std::ldexp(1.0, std::max(e - 1, -126) + 45);
  const double r = (std::fabs(double(f)) + magic) - magic;
  const std::uint32_t sign = f32_bits(f) & 0x80000000u;
  if (r >= 0x1p128) return static_cast<unsigned short>((sign | 0x7f800000u) >> 16);  // rounds up to inf
  return static_cast<unsigned short>((sign | f32_bits(static_cast<float>(r))) >> 16);
}
inline float bf16_to_f32(unsigned short b) { return bits_f32(static_cast<std::uint32_t>(b) << 16); }

/// a*b + c with a, b, c 16-bit values, rounded to odd in double: the exact result's
/// information survives for one final correct rounding to fp16 (or, through
/// round_odd_to_float, bf16).
double fma_round_odd(double a, double b, double c);
float round_odd_to_float(double d);

}  // namespace detail

struct __half {
  unsigned short __x;

  __half() = default;
  constexpr __half(const __half_raw& r) : __x(r.x) {}
  __half(float f) : __x(detail::f32_to_f16(f)) {}
  __half(double d) : __x(detail::f64_to_f16(d)) {}
  __half(int v) : __half(static_cast<float>(v)) {}
  __half(unsigned v) : __half(static_cast<float>(v)) {}
  __half(short v) : __half(static_cast<float>(v)) {}
  __half(unsigned short v) : __half(static_cast<float>(v)) {}
  __half(long v) : __half(static_cast<double>(v)) {}
  __half(unsigned long v) : __half(static_cast<double>(v)) {}
  __half(long long v) : __half(static_cast<double>(v)) {}
  __half(unsigned long long v) : __half(static_cast<double>(v)) {}
  __half& operator=(const __half_raw& r) {
    __x = r.x;
    return *this;
  }
  operator __half_raw() const { return __half_raw{__x}; }
  operator float() const { return detail::f16_to_f32(__x); }
};

struct __nv_bfloat16 {
  unsigned short __x;

  __nv_bfloat16() = default;
  constexpr __nv_bfloat16(const __nv_bfloat16_raw& r) : __x(r.x) {}
  __nv_bfloat16(float f) : __x(detail::f32_to_bf16(f)) {}
  __nv_bfloat16(double d) : __x(detail::f32_to_bf16(detail::round_odd_to_float(d))) {}
  __nv_bfloat16(int v) : __nv_bfloat16(static_cast<double>(v)) {}
  __nv_bfloat16(unsigned v) : __nv_bfloat16(static_cast<double>(v)) {}
  __nv_bfloat16(short v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(unsigned short v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(long long v) : __nv_bfloat16(static_cast<double>(v)) {}
  __nv_bfloat16(unsigned long long v) : __nv_bfloat16(static_cast<double>(v)) {}
  __nv_bfloat16& operator=(const __nv_bfloat16_raw& r) {
    __x = r.x;
    return *this;
  }
  operator __nv_bfloat16_raw() const { return __nv_bfloat16_raw{__x}; }
  operator float() const { return detail::bf16_to_f32(__x); }
};

struct __attribute__((aligned(4))) __half2 {
  __half x, y;
  __half2() = default;
  constexpr __half2(const __half& a, const __half& b) : x(a), y(b) {}
  constexpr __half2(const __half2_raw& r) : x(__half_raw{r.x}), y(__half_raw{r.y}) {}
  operator __half2_raw() const { return __half2_raw{x.__x, y.__x}; }
};

struct __attribute__((aligned(4))) __nv_bfloat162 {
  __nv_bfloat16 x, y;
  __nv_bfloat162() = default;
  constexpr __nv_bfloat162(const __nv_bfloat16& a, const __nv_bfloat16& b) : x(a), y(b) {}
  constexpr __nv_bfloat162(const __nv_bfloat162_raw& r)
      : x(__nv_bfloat16_raw{r.x}), y(__nv_bfloat16_raw{r.y}) {}
  operator __nv_bfloat162_raw() const { return __nv_bfloat162_raw{x.__x, y.__x}; }
};

static_assert(sizeof(__half) == 2 && alignof(__half) == 2);
static_assert(sizeof(__half2) == 4 && alignof(__half2) == 4);
static_assert(sizeof(__nv_bfloat16) == 2 && alignof(__nv_bfloat16) == 2);
static_assert(sizeof(__nv_bfloat162) == 4 && alignof(__nv_bfloat162) == 4);

// ---- conversions --------------------------------------------------------------------
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline __half __double2half(double d) { return __half(d); }
inline float __half2float(__half h) { return static_cast<float>(h); }
inline __half __int2half_rn(int v) { return __half(v); }
inline __half __uint2half_rn(unsigned v) { return __half(v); }
inline int __half2int_rn(__half h) { return static_cast<int>(std::nearbyint(static_cast<float>(h))); }
inline int __half2int_rz(__half h) { return static_cast<int>(static_cast<float>(h)); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline short __half_as_short(__half h) { return static_cast<short>(h.__x); }
inline __half __ushort_as_half(unsigned short b) { return __half(__half_raw{b}); }
inline __half __short_as_half(short b) { return __half(__half_raw{static_cast<unsigned short>(b)}); }
inline __half2 __float2half2_rn(float f) { return __half2(__half(f), __half(f)); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2(__half(a), __half(b)); }
inline __half2 __float22half2_rn(float2 f) { return __half2(__half(f.x), __half(f.y)); }
inline float2 __half22float2(__half2 h) { return float2{float(h.x), float(h.y)}; }
inline __half2 __half2half2(__half h) { return __half2(h, h); }
inline __half2 __halves2half2(__half a, __half b) { return __half2(a, b); }
inline __half2 make_half2(__half a, __half b) { return __half2(a, b); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline float __low2float(__half2 h) { return float(h.x); }
inline float __high2float(__half2 h) { return float(h.y); }
inline __half2 __lows2half2(__half2 a, __half2 b) { return __half2(a.x, b.x); }
inline __half2 __highs2half2(__half2 a, __half2 b) { return __half2(a.y, b.y); }
inline __half2 __lowhigh2highlow(__half2 h) { return __half2(h.y, h.x); }

inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __double2bfloat16(double d) { return __nv_bfloat16(d); }
inline float __bfloat162float(__nv_bfloat16 h) { return static_cast<float>(h); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short b) { return __nv_bfloat16(__nv_bfloat16_raw{b}); }
inline __nv_bfloat162 __float2bfloat162_rn(float f) { return __nv_bfloat162(__nv_bfloat16(f), __nv_bfloat16(f)); }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
  return __nv_bfloat162(__nv_bfloat16(a), __nv_bfloat16(b));
}
inline __nv_bfloat162 __float22bfloat162_rn(float2 f) {
  return __nv_bfloat162(__nv_bfloat16(f.x), __nv_bfloat16(f.y));
}
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return float2{float(h.x), float(h.y)}; }
inline __nv_bfloat162 __bfloat162bfloat162(__nv_bfloat16 h) { return __nv_bfloat162(h, h); }
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat162(a, b); }
inline __nv_bfloat162 make_bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat162(a, b); }
inline __nv_bfloat16 __low2bfloat16(__nv_bfloat162 h) { return h.x; }
inline __nv_bfloat16 __high2bfloat16(__nv_bfloat162 h) { return h.y; }
inline float __low2float(__nv_bfloat162 h) { return float(h.x); }
inline float __high2float(__nv_bfloat162 h) { return float(h.y); }

// ---- scalar arithmetic: the same names for __half and __nv_bfloat16 ------------------
#define HALFWAY_EMU_H16_OPS(H)                                                              \
  inline H __hadd(H a, H b) { return H(float(a) + float(b)); }                              \
  inline H __hsub(H a, H b) { return H(float(a) - float(b)); }                              \
  inline H __hmul(H a, H b) { return H(float(a) * float(b)); }                              \
  inline H __hdiv(H a, H b) { return H(float(a) / float(b)); }                              \
  inline H __hneg(H a) { return H(-float(a)); }                                             \
  inline H __habs(H a) { return H(std::fabs(float(a))); }                                   \
  inline bool __hisnan(H a) { return std::isnan(float(a)); }                                \
  inline int __hisinf(H a) { return std::isinf(float(a)) ? (float(a) > 0 ? 1 : -1) : 0; }   \
  /* fmax semantics: a NaN operand loses to a number */                                     \
  inline H __hmax(H a, H b) { return H(std::fmax(float(a), float(b))); }                    \
  inline H __hmin(H a, H b) { return H(std::fmin(float(a), float(b))); }                    \
  inline H __hmax_nan(H a, H b) { return __hisnan(a) || __hisnan(b) ? H(NAN) : __hmax(a, b); } \
  inline H __hmin_nan(H a, H b) { return __hisnan(a) || __hisnan(b) ? H(NAN) : __hmin(a, b); } \
  inline bool __heq(H a, H b) { return float(a) == float(b); }                              \
  inline bool __hne(H a, H b) { return float(a) != float(b); }                              \
  inline bool __hlt(H a, H b) { return float(a) < float(b); }                               \
  inline bool __hle(H a, H b) { return float(a) <= float(b); }                              \
  inline bool __hgt(H a, H b) { return float(a) > float(b); }                               \
  inline bool __hge(H a, H b) { return float(a) >= float(b); }                              \
  inline H hexp(H a) { return H(std::exp(float(a))); }                                      \
  inline H hexp2(H a) { return H(std::exp2(float(a))); }                                    \
  inline H hexp10(H a) { return H(std::pow(10.0f, float(a))); }                             \
  inline H hlog(H a) { return H(std::log(float(a))); }                                      \
  inline H hlog2(H a) { return H(std::log2(float(a))); }                                    \
  inline H hlog10(H a) { return H(std::log10(float(a))); }                                  \
  inline H hsqrt(H a) { return H(std::sqrt(float(a))); }                                    \
  inline H hrsqrt(H a) { return H(1.0f / std::sqrt(float(a))); }                            \
  inline H hrcp(H a) { return H(1.0f / float(a)); }                                         \
  inline H hsin(H a) { return H(std::sin(float(a))); }                                      \
  inline H hcos(H a) { return H(std::cos(float(a))); }                                      \
  inline H htanh(H a) { return H(std::tanh(float(a))); }                                    \
  inline H hfloor(H a) { return H(std::floor(float(a))); }                                  \
  inline H hceil(H a) { return H(std::ceil(float(a))); }                                    \
  inline H htrunc(H a) { return H(std::trunc(float(a))); }                                  \
  inline H hrint(H a) { return H(std::nearbyint(float(a))); }                               \
  inline H operator+(const H& a, const H& b) { return __hadd(a, b); }                       \
  inline H operator-(const H& a, const H& b) { return __hsub(a, b); }                       \
  inline H operator*(const H& a, const H& b) { return __hmul(a, b); }                       \
  inline H operator/(const H& a, const H& b) { return __hdiv(a, b); }                       \
  inline H& operator+=(H& a, const H& b) { return a = __hadd(a, b); }                       \
  inline H& operator-=(H& a, const H& b) { return a = __hsub(a, b); }                       \
  inline H& operator*=(H& a, const H& b) { return a = __hmul(a, b); }                       \
  inline H& operator/=(H& a, const H& b) { return a = __hdiv(a, b); }                       \
  inline H operator+(const H& a) { return a; }                                              \
  inline H operator-(const H& a) { return __hneg(a); }                                      \
  inline bool operator==(const H& a, const H& b) { return __heq(a, b); }                    \
  inline bool operator!=(const H& a, const H& b) { return __hne(a, b); }                    \
  inline bool operator<(const H& a, const H& b) { return __hlt(a, b); }                     \
  inline bool operator<=(const H& a, const H& b) { return __hle(a, b); }                    \
  inline bool operator>(const H& a, const H& b) { return __hgt(a, b); }                     \
  inline bool operator>=(const H& a, const H& b) { return __hge(a, b); }

HALFWAY_EMU_H16_OPS(__half)
HALFWAY_EMU_H16_OPS(__nv_bfloat16)
#undef HALFWAY_EMU_H16_OPS

inline __half __hfma(__half a, __half b, __half c) {
  return __half(detail::fma_round_odd(float(a), float(b), float(c)));
}
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c) {
  return __nv_bfloat16(detail::fma_round_odd(float(a), float(b), float(c)));
}
inline __half __hfma_relu(__half a, __half b, __half c) {
  __half r = __hfma(a, b, c);
  return float(r) < 0.0f ? __half(0.0f) : r;
}

// ---- pair arithmetic: each half of the pair on its own ---------------------------------
#define HALFWAY_EMU_H16X2_OPS(H2, H)                                                           \
  inline H2 __hadd2(H2 a, H2 b) { return H2(__hadd(a.x, b.x), __hadd(a.y, b.y)); }             \
  inline H2 __hsub2(H2 a, H2 b) { return H2(__hsub(a.x, b.x), __hsub(a.y, b.y)); }             \
  inline H2 __hmul2(H2 a, H2 b) { return H2(__hmul(a.x, b.x), __hmul(a.y, b.y)); }             \
  inline H2 __h2div(H2 a, H2 b) { return H2(__hdiv(a.x, b.x), __hdiv(a.y, b.y)); }             \
  inline H2 __hfma2(H2 a, H2 b, H2 c) { return H2(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)); } \
  inline H2 __hneg2(H2 a) { return H2(__hneg(a.x), __hneg(a.y)); }                             \
  inline H2 __habs2(H2 a) { return H2(__habs(a.x), __habs(a.y)); }                             \
  inline H2 __hmax2(H2 a, H2 b) { return H2(__hmax(a.x, b.x), __hmax(a.y, b.y)); }             \
  inline H2 __hmin2(H2 a, H2 b) { return H2(__hmin(a.x, b.x), __hmin(a.y, b.y)); }             \
  inline H2 h2exp(H2 a) { return H2(hexp(a.x), hexp(a.y)); }                                   \
  inline H2 h2log(H2 a) { return H2(hlog(a.x), hlog(a.y)); }                                   \
  inline H2 h2sqrt(H2 a) { return H2(hsqrt(a.x), hsqrt(a.y)); }                                \
  inline H2 h2rsqrt(H2 a) { return H2(hrsqrt(a.x), hrsqrt(a.y)); }                             \
  inline H2 h2rcp(H2 a) { return H2(hrcp(a.x), hrcp(a.y)); }                                   \
  inline bool __hbeq2(H2 a, H2 b) { return __heq(a.x, b.x) && __heq(a.y, b.y); }               \
  inline H2 operator+(const H2& a, const H2& b) { return __hadd2(a, b); }                      \
  inline H2 operator-(const H2& a, const H2& b) { return __hsub2(a, b); }                      \
  inline H2 operator*(const H2& a, const H2& b) { return __hmul2(a, b); }                      \
  inline H2 operator/(const H2& a, const H2& b) { return __h2div(a, b); }                      \
  inline H2& operator+=(H2& a, const H2& b) { return a = __hadd2(a, b); }                      \
  inline H2& operator-=(H2& a, const H2& b) { return a = __hsub2(a, b); }                      \
  inline H2& operator*=(H2& a, const H2& b) { return a = __hmul2(a, b); }                      \
  inline H2& operator/=(H2& a, const H2& b) { return a = __h2div(a, b); }                      \
  inline H2 operator-(const H2& a) { return __hneg2(a); }                                      \
  inline bool operator==(const H2& a, const H2& b) { return __hbeq2(a, b); }                   \
  inline bool operator!=(const H2& a, const H2& b) { return __hne(a.x, b.x) || __hne(a.y, b.y); }

HALFWAY_EMU_H16X2_OPS(__half2, __half)
HALFWAY_EMU_H16X2_OPS(__nv_bfloat162, __nv_bfloat16)
#undef HALFWAY_EMU_H16X2_OPS

}  // namespace halfway::simt
