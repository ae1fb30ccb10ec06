// Chapter 01's conversions, case by case: each tricky value by name, with the bits it must
// give. The exhaustive proofs are in test_sweeps.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/fp16/half.hpp"

using namespace halfway;

namespace {
const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();
float f32(std::uint32_t bits) { return bits_to_float(bits); }
float pow2f(int k) { return std::ldexp(1.0f, k); }
}  // namespace

// ---- 01.1: float to half, round to nearest even ----------------------------------------

TEST_CASE("float to half: exact values keep their bits [ex01.1]") {
  CHECK(float_to_half_bits(1.0f) == 0x3C00);
  CHECK(float_to_half_bits(-2.0f) == 0xC000);
  CHECK(float_to_half_bits(0.5f) == 0x3800);
  CHECK(float_to_half_bits(1.5f) == 0x3E00);
  CHECK(float_to_half_bits(1024.0f) == 0x6400);
  CHECK(float_to_half_bits(2048.0f) == 0x6800);
}

TEST_CASE("float to half: inexact values round to the nearest half [ex01.1]") {
  CHECK(float_to_half_bits(0.1f) == 0x2E66);        // 0.0999755859375
  CHECK(float_to_half_bits(1.0f / 3.0f) == 0x3555);  // 0.333251953125
  CHECK(float_to_half_bits(3.14159265f) == 0x4248);  // 3.140625
  CHECK(float_to_half_bits(-0.1f) == 0xAE66);
}

TEST_CASE("float to half: ties go to even [ex01.1]") {
  // Near 1 the halves are 2^-10 apart, so 1 + 2^-11 is exactly halfway.
  CHECK(float_to_half_bits(1.0f + pow2f(-11)) == 0x3C00);                    // to 1.0 (even)
  CHECK(float_to_half_bits(1.0f + 3 * pow2f(-11)) == 0x3C02);                // to 1 + 2^-9 (even)
  CHECK(float_to_half_bits(std::nextafter(1.0f + pow2f(-11), 2.0f)) == 0x3C01);  // past the tie
  CHECK(float_to_half_bits(std::nextafter(1.0f + 3 * pow2f(-11), 0.0f)) == 0x3C01);  // before it
  // Between 2048 and 4096 the halves are 2 apart: odd integers are ties.
  CHECK(float_to_half_bits(2049.0f) == 0x6800);  // 2048
  CHECK(float_to_half_bits(2051.0f) == 0x6802);  // 2052
  CHECK(float_to_half_bits(-2049.0f) == 0xE800);
  // A tie whose rounding carries into the exponent: 2 - 2^-11 rounds up to 2.
  CHECK(float_to_half_bits(2.0f - pow2f(-11)) == 0x4000);
}

TEST_CASE("float to half: largest subnormal and smallest normal [ex01.1]") {
  CHECK(float_to_half_bits(1023 * pow2f(-24)) == 0x03FF);  // largest subnormal
  CHECK(float_to_half_bits(pow2f(-14)) == 0x0400);         // smallest normal
  // Halfway between them: a tie, and 0x0400 is the even one.
  CHECK(float_to_half_bits(1023.5f * pow2f(-24)) == 0x0400);
  CHECK(float_to_half_bits(1022.5f * pow2f(-24)) == 0x03FE);
  CHECK(float_to_half_bits(-1023 * pow2f(-24)) == 0x83FF);
}

TEST_CASE("float to half: the smallest subnormal and what flushes to zero [ex01.1]") {
  CHECK(float_to_half_bits(pow2f(-24)) == 0x0001);  // smallest subnormal
  CHECK(float_to_half_bits(pow2f(-25)) == 0x0000);  // a tie between 0 and 2^-24: 0 is even
  CHECK(float_to_half_bits(std::nextafter(pow2f(-25), 1.0f)) == 0x0001);
  CHECK(float_to_half_bits(1.5f * pow2f(-24)) == 0x0002);  // a tie, 2 is even
  CHECK(float_to_half_bits(2.5f * pow2f(-24)) == 0x0002);
  CHECK(float_to_half_bits(pow2f(-26)) == 0x0000);
  CHECK(float_to_half_bits(1e-8f) == 0x0000);
  CHECK(float_to_half_bits(-1e-8f) == 0x8000);               // keeps its sign
  CHECK(float_to_half_bits(f32(0x00000001)) == 0x0000);       // a float subnormal
  CHECK(float_to_half_bits(1e-7f) == 0x0002);                 // 1.68 * 2^-24
}

TEST_CASE("float to half: 65504 65519.99 and 65520 [ex01.1]") {
  CHECK(float_to_half_bits(65504.0f) == 0x7BFF);    // the largest half
  CHECK(float_to_half_bits(65519.99f) == 0x7BFF);   // below the midpoint to 65536
  CHECK(float_to_half_bits(65520.0f) == 0x7C00);    // the midpoint: ties to "even" 2^16, inf
  CHECK(float_to_half_bits(-65520.0f) == 0xFC00);
  CHECK(float_to_half_bits(65536.0f) == 0x7C00);
  CHECK(float_to_half_bits(1e10f) == 0x7C00);
  CHECK(float_to_half_bits(f32(0x7F7FFFFF)) == 0x7C00);  // the largest float
  CHECK(float_to_half_bits(kInf) == 0x7C00);
  CHECK(float_to_half_bits(-kInf) == 0xFC00);
}

TEST_CASE("float to half: NaN becomes the canonical 0x7FFF [ex01.1]") {
  CHECK(float_to_half_bits(kNaN) == 0x7FFF);
  CHECK(float_to_half_bits(-kNaN) == 0x7FFF);
  CHECK(float_to_half_bits(f32(0x7F800001)) == 0x7FFF);  // signalling, tiny payload
  CHECK(float_to_half_bits(f32(0xFFFFFFFF)) == 0x7FFF);
}

TEST_CASE("float to half: -0 keeps its sign [ex01.1]") {
  CHECK(float_to_half_bits(0.0f) == 0x0000);
  CHECK(float_to_half_bits(-0.0f) == 0x8000);
}

// ---- 01.2: half to float ----------------------------------------------------------------

TEST_CASE("half to float: special values [ex01.2]") {
  CHECK(half_bits_to_float(0x3C00) == 1.0f);
  CHECK(half_bits_to_float(0xC000) == -2.0f);
  CHECK(half_bits_to_float(0x2E66) == 0.0999755859375f);
  CHECK(half_bits_to_float(0x7BFF) == 65504.0f);
  CHECK(half_bits_to_float(0xFBFF) == -65504.0f);
  CHECK(half_bits_to_float(0x7C00) == kInf);
  CHECK(half_bits_to_float(0xFC00) == -kInf);
  CHECK(float_to_bits(half_bits_to_float(0x0000)) == 0x00000000u);
  CHECK(float_to_bits(half_bits_to_float(0x8000)) == 0x80000000u);  // -0
}

TEST_CASE("half to float: largest subnormal smallest normal and smallest subnormal [ex01.2]") {
  CHECK(half_bits_to_float(0x03FF) == 1023 * pow2f(-24));  // largest subnormal
  CHECK(half_bits_to_float(0x0400) == pow2f(-14));         // smallest normal
  CHECK(half_bits_to_float(0x0001) == pow2f(-24));         // smallest subnormal
  CHECK(half_bits_to_float(0x0200) == pow2f(-15));
  CHECK(half_bits_to_float(0x8001) == -pow2f(-24));
}

TEST_CASE("half to float: NaN stays NaN with its sign and payload [ex01.2]") {
  CHECK(float_to_bits(half_bits_to_float(0x7E00)) == 0x7FC00000u);  // the default quiet NaN
  CHECK(float_to_bits(half_bits_to_float(0x7FFF)) == 0x7FFFE000u);  // canonical: payload kept
  CHECK(float_to_bits(half_bits_to_float(0x7C01)) == 0x7FC02000u);  // signalling: made quiet
  CHECK(float_to_bits(half_bits_to_float(0xFE00)) == 0xFFC00000u);  // sign kept
}

TEST_CASE("half to float: every half gives the value its fields say [ex01.2]") {
  // Exhaustive, against the formula: (-1)^s * 2^(e-15) * (1 + m/1024), or 2^-14 * m/1024
  // for e = 0, evaluated in double (exactly).
  int bad = 0;
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const std::uint32_t s = h >> 15, e = (h >> 10) & 0x1F, m = h & 0x3FF;
    const float got = half_bits_to_float(static_cast<std::uint16_t>(h));
    double want;
    if (e == 0x1F) {
      if (m != 0) {
        bad += !std::isnan(got) || std::signbit(got) != (s != 0);
        continue;
      }
      want = std::numeric_limits<double>::infinity();
    } else {
      want = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, static_cast<int>(e) - 25);
    }
    if (s) want = -want;
    bad += static_cast<double>(got) != want || std::signbit(got) != (s != 0);
  }
  CHECK(bad == 0);
}

// ---- 01.3: float to bf16 ----------------------------------------------------------------

TEST_CASE("float to bf16: exact and rounded values [ex01.3]") {
  CHECK(float_to_bf16_bits(1.0f) == 0x3F80);
  CHECK(float_to_bf16_bits(-2.0f) == 0xC000);
  CHECK(float_to_bf16_bits(0.1f) == 0x3DCD);  // 0x3DCCCCCD: the dropped 0xCCCD > 0x8000
  CHECK(float_to_bf16_bits(3.14159265f) == 0x4049);
  CHECK(float_to_bf16_bits(65504.0f) == 0x4780);  // bf16 has no trouble with 65504: 65536
  CHECK(float_to_bf16_bits(1e10f) == 0x5015);
}

TEST_CASE("float to bf16: ties go to even [ex01.3]") {
  CHECK(float_to_bf16_bits(f32(0x3F808000)) == 0x3F80);  // 1 + 2^-8: tie, to 1.0
  CHECK(float_to_bf16_bits(f32(0x3F818000)) == 0x3F82);  // 1 + 3*2^-8: tie, to the even one
  CHECK(float_to_bf16_bits(f32(0x3F808001)) == 0x3F81);  // just past the tie
  CHECK(float_to_bf16_bits(f32(0x3F807FFF)) == 0x3F80);  // just before it
  CHECK(float_to_bf16_bits(f32(0x3FFF8000)) == 0x4000);  // a tie that carries into the exponent
}

TEST_CASE("float to bf16: the largest floats overflow to inf [ex01.3]") {
  CHECK(float_to_bf16_bits(f32(0x7F7F7FFF)) == 0x7F7F);  // rounds down to bf16's largest
  CHECK(float_to_bf16_bits(f32(0x7F7F8000)) == 0x7F80);  // a tie, 0x7F7F is odd: inf
  CHECK(float_to_bf16_bits(f32(0x7F7FFFFF)) == 0x7F80);  // the largest float: inf
  CHECK(float_to_bf16_bits(f32(0xFF7FFFFF)) == 0xFF80);
  CHECK(float_to_bf16_bits(kInf) == 0x7F80);
  CHECK(float_to_bf16_bits(-kInf) == 0xFF80);
}

TEST_CASE("float to bf16: subnormals NaN and -0 [ex01.3]") {
  CHECK(float_to_bf16_bits(f32(0x00000001)) == 0x0000);  // the smallest float flushes
  CHECK(float_to_bf16_bits(f32(0x00008000)) == 0x0000);  // a tie, 0 is even
  CHECK(float_to_bf16_bits(f32(0x00018000)) == 0x0002);  // a tie, 2 is even
  CHECK(float_to_bf16_bits(f32(0x00010000)) == 0x0001);  // bf16's smallest subnormal, 2^-133
  CHECK(float_to_bf16_bits(f32(0x007FFFFF)) == 0x0080);  // to bf16's smallest normal
  CHECK(float_to_bf16_bits(kNaN) == 0x7FFF);
  CHECK(float_to_bf16_bits(-kNaN) == 0x7FFF);
  CHECK(float_to_bf16_bits(f32(0x7F800001)) == 0x7FFF);  // would round to inf bits: still NaN
  CHECK(float_to_bf16_bits(f32(0x7FFFFFFF)) == 0x7FFF);  // would carry into the sign: still NaN
  CHECK(float_to_bf16_bits(0.0f) == 0x0000);
  CHECK(float_to_bf16_bits(-0.0f) == 0x8000);
}

// ---- The helpers around them (kernels/fp16/half.hpp) -------------------------------------

TEST_CASE("round toward zero truncates where nearest even rounds") {
  CHECK(float_to_half_bits_rtz(std::nextafter(1.0f + pow2f(-10), 2.0f)) == 0x3C01);
  CHECK(float_to_half_bits_rtz(std::nextafter(1.0f + pow2f(-10), 0.0f)) == 0x3C00);
  CHECK(float_to_half_bits_rtz(0.1f) == 0x2E66);
  CHECK(float_to_half_bits_rtz(1.0f / 3.0f) == 0x3555);
  CHECK(float_to_half_bits_rtz(-2049.9f) == 0xE800);
  CHECK(float_to_half_bits_rtz(65519.99f) == 0x7BFF);
  CHECK(float_to_half_bits_rtz(1e10f) == 0x7BFF);  // overflow stops at the largest finite
  CHECK(float_to_half_bits_rtz(-1e10f) == 0xFBFF);
  CHECK(float_to_half_bits_rtz(kInf) == 0x7C00);
  CHECK(float_to_half_bits_rtz(1.9f * pow2f(-24)) == 0x0001);
  CHECK(float_to_half_bits_rtz(0.9f * pow2f(-24)) == 0x0000);
  CHECK(float_to_half_bits_rtz(-0.0f) == 0x8000);
  CHECK(float_to_half_bits_rtz(kNaN) == 0x7FFF);
}

TEST_CASE("bf16 to float is the top half of the float") {
  CHECK(bf16_bits_to_float(0x3F80) == 1.0f);
  CHECK(bf16_bits_to_float(0x3DCD) == f32(0x3DCD0000));
  CHECK(bf16_bits_to_float(0x0001) == std::ldexp(1.0f, -133));
  CHECK(bf16_bits_to_float(0xFF80) == -kInf);
  CHECK(std::isnan(bf16_bits_to_float(0x7FFF)));
}

TEST_CASE("half and bfloat16 are 2-byte bit containers") {
  static_assert(sizeof(half) == 2 && alignof(half) == 2);
  static_assert(sizeof(bfloat16) == 2 && alignof(bfloat16) == 2);
  static_assert(sizeof(half2) == 4 && alignof(half2) == 4);
  static_assert(std::is_trivially_copyable_v<half> && std::is_standard_layout_v<half>);
  CHECK(half(0.1f).bits == 0x2E66);
  CHECK(to_float(half(0.1f)) == 0.0999755859375f);
  CHECK(static_cast<float>(half::from_bits(0x7BFF)) == 65504.0f);
  CHECK(half{}.bits == 0);
  CHECK(bfloat16(0.1f).bits == 0x3DCD);
  CHECK(to_float(bfloat16::from_bits(0x4049)) == 3.140625f);
  half2 pair{half(1.0f), half(-2.0f)};
  std::uint32_t word;
  std::memcpy(&word, &pair, 4);
  CHECK(word == 0xC0003C00u);  // x in the low 16 bits, as CUDA's __half2
}

TEST_CASE("format constants match the reference table") {
  CHECK(kFp16.max_finite() == 65504.0);
  CHECK(kFp16.min_normal() == std::ldexp(1.0, -14));
  CHECK(kFp16.min_subnormal() == std::ldexp(1.0, -24));
  CHECK(kFp16.epsilon() == std::ldexp(1.0, -10));
  CHECK(kBf16.max_finite() == static_cast<double>(bf16_bits_to_float(0x7F7F)));
  CHECK(kBf16.min_normal() == std::ldexp(1.0, -126));
  CHECK(kBf16.min_subnormal() == std::ldexp(1.0, -133));
  CHECK(kBf16.epsilon() == std::ldexp(1.0, -7));
  CHECK(kFp32.max_finite() == static_cast<double>(std::numeric_limits<float>::max()));
  CHECK(kFp32.min_normal() == static_cast<double>(std::numeric_limits<float>::min()));
  CHECK(kFp32.min_subnormal() == static_cast<double>(std::numeric_limits<float>::denorm_min()));
  CHECK(kFp32.epsilon() == static_cast<double>(std::numeric_limits<float>::epsilon()));
}

TEST_CASE("fields and bits_string split the bit patterns") {
  const Fields f = fields(half::from_bits(0xBE00));  // -1.5
  CHECK(f.sign == 1);
  CHECK(f.exponent == 15);
  CHECK(f.mantissa == 0x200);
  const Fields g = fields(1.0f);
  CHECK(g.sign == 0);
  CHECK(g.exponent == 127);
  CHECK(g.mantissa == 0);
  CHECK(fields(bfloat16::from_bits(0x0001)).exponent == 0);
  CHECK(bits_string(kFp16, 0x3C00) == "0 01111 0000000000");
  CHECK(bits_string(kBf16, 0xC049) == "1 10000000 1001001");
  CHECK(bits_string(kFp32, 0x3DCCCCCD) == "0 01111011 10011001100110011001101");
}

TEST_CASE("next_up and next_down step through neighbouring halves") {
  CHECK(next_up(half(1.0f)).bits == 0x3C01);
  CHECK(next_down(half(1.0f)).bits == 0x3BFF);
  CHECK(next_up(half::from_bits(0x03FF)).bits == 0x0400);  // largest subnormal -> smallest normal
  CHECK(next_up(half::from_bits(0x7BFF)).bits == 0x7C00);  // 65504 -> inf
  CHECK(next_up(half::from_bits(0x7C00)).bits == 0x7C00);  // inf stays
  CHECK(next_up(half::from_bits(0x0000)).bits == 0x0001);
  CHECK(next_up(half::from_bits(0x8000)).bits == 0x0001);  // -0 -> the smallest subnormal
  CHECK(next_down(half::from_bits(0x0000)).bits == 0x8001);
  CHECK(next_up(half::from_bits(0x8001)).bits == 0x8000);
  CHECK(next_up(half(-1.0f)).bits == 0xBBFF);
  CHECK(next_down(half::from_bits(0xFC00)).bits == 0xFC00);
  CHECK(is_nan(next_up(half::from_bits(0x7E00))));
  CHECK(next_up(bfloat16(1.0f)).bits == 0x3F81);
  CHECK(next_down(bfloat16::from_bits(0x0000)).bits == 0x8001);
  // Every finite half: next_up is the smallest value above it.
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {
    const half h = half::from_bits(static_cast<std::uint16_t>(b));
    if (!is_finite(h)) continue;
    const half u = next_up(h);
    CHECK(to_float(u) > to_float(h));
    CHECK(to_float(next_down(u)) == to_float(h));
  }
}

TEST_CASE("ulp is the spacing of the format at a value") {
  CHECK(ulp(half(1.0f)) == std::ldexp(1.0, -10));
  CHECK(ulp(half(1.99f)) == std::ldexp(1.0, -10));
  CHECK(ulp(half(2.0f)) == std::ldexp(1.0, -9));
  CHECK(ulp(half(65504.0f)) == 32.0);
  CHECK(ulp(half(-1000.0f)) == 0.5);
  CHECK(ulp(half::from_bits(0x0001)) == std::ldexp(1.0, -24));  // subnormals: 2^-24 apart
  CHECK(ulp(half::from_bits(0x0400)) == std::ldexp(1.0, -24));  // and the first normal binade too
  CHECK(ulp(half::from_bits(0x0000)) == std::ldexp(1.0, -24));
  CHECK(ulp(kFp16, 1e6) == 32.0);  // past the largest half: the top binade's spacing
  CHECK(ulp(1.0f) == std::ldexp(1.0, -23));
  CHECK(ulp(bfloat16(1.0f)) == std::ldexp(1.0, -7));
  CHECK(ulp(kBf16, 1e-40) == std::ldexp(1.0, -133));
  CHECK(std::isnan(ulp(half::from_bits(0x7E00))));
  // ulp agrees with next_up on every positive finite half below the largest.
  for (std::uint32_t b = 0; b < 0x7BFF; ++b) {
    const half h = half::from_bits(static_cast<std::uint16_t>(b));
    CHECK(static_cast<double>(to_float(next_up(h))) - to_float(h) == ulp(h));
  }
}
