// The fp8 conversions case by case: the edges of each format (the largest value, the
// overflow threshold and its tie, the subnormals, the ties to even), NaN and infinity in
// both saturation modes, and every byte decoded to its value from the format's formula.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/fp8/fp8.hpp"

using namespace halfway;

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
std::uint8_t e4m3(float f, Saturation s = Saturation::finite) { return float_to_e4m3_bits(f, s); }
std::uint8_t e5m2(float f, Saturation s = Saturation::finite) { return float_to_e5m2_bits(f, s); }
float next_up(float f) { return std::nextafter(f, kInf); }
float next_down(float f) { return std::nextafter(f, 0.0f); }
}  // namespace

TEST_CASE("e4m3 holds small integers and powers of two exactly [ex09.1]") {
  CHECK(e4m3(0.0f) == 0x00);
  CHECK(e4m3(-0.0f) == 0x80);
  CHECK(e4m3(1.0f) == 0x38);  // exponent 7 = bias, mantissa 0
  CHECK(e4m3(-2.0f) == 0xC0);
  CHECK(e4m3(1.875f) == 0x3F);
  CHECK(e4m3(15.0f) == 0x57);  // 1.875 * 2^3
  CHECK(e4m3(256.0f) == 0x78);  // the top exponent holds values: no infinity in e4m3
  CHECK(e4m3(448.0f) == 0x7E);
  CHECK(e4m3(0x1p-6f) == 0x08);  // smallest normal
  CHECK(e4m3(0x1p-9f) == 0x01);  // smallest subnormal
  CHECK(e4m3(0x7p-9f) == 0x07);  // largest subnormal
}

TEST_CASE("e4m3 rounds to nearest with ties to even [ex09.1]") {
  // Between 1 (0x38) and 1.125 (0x39): the midpoint 1.0625 goes to the even 0x38.
  CHECK(e4m3(1.0625f) == 0x38);
  CHECK(e4m3(next_up(1.0625f)) == 0x39);
  CHECK(e4m3(next_down(1.0625f)) == 0x38);
  // Between 1.125 (0x39) and 1.25 (0x3A): the midpoint goes up, to the even 0x3A.
  CHECK(e4m3(1.1875f) == 0x3A);
  CHECK(e4m3(next_down(1.1875f)) == 0x39);
  // A carry out of the mantissa: 1.9375 (between 1.875 and 2) ties to 2 = 0x40.
  CHECK(e4m3(1.9375f) == 0x40);
  CHECK(e4m3(-1.9375f) == 0xC0);
}

TEST_CASE("e4m3 subnormals round to multiples of 2^-9 and tiny values to signed zero [ex09.1]") {
  CHECK(e4m3(0x1p-10f) == 0x00);               // a tie between 0 and 2^-9: 0 is even
  CHECK(e4m3(next_up(0x1p-10f)) == 0x01);
  CHECK(e4m3(-0x1p-10f) == 0x80);              // the sign survives underflow
  CHECK(e4m3(-1e-30f) == 0x80);
  CHECK(e4m3(0x3p-10f) == 0x02);               // 1.5 * 2^-9 ties to the even 2 * 2^-9
  CHECK(e4m3(0x5p-10f) == 0x02);               // 2.5 * 2^-9 ties to 2 * 2^-9
  CHECK(e4m3(0xFp-10f) == 0x08);               // 7.5 * 2^-9 ties up into the smallest normal
  CHECK(e4m3(std::numeric_limits<float>::denorm_min()) == 0x00);
}

TEST_CASE("e4m3 overflow saturates to 448 or becomes NaN past 464 [ex09.1]") {
  CHECK(e4m3(460.0f) == 0x7E);  // rounds to 448 in both modes
  CHECK(e4m3(460.0f, Saturation::none) == 0x7E);
  CHECK(e4m3(464.0f, Saturation::none) == 0x7E);  // the tie goes to the even 448
  CHECK(e4m3(next_up(464.0f), Saturation::none) == 0x7F);
  CHECK(e4m3(-next_up(464.0f), Saturation::none) == 0xFF);  // CUDA keeps the sign: 0xFF is NaN too
  CHECK(e4m3(next_up(464.0f)) == 0x7E);
  CHECK(e4m3(-1e30f) == 0xFE);
  CHECK(e4m3(kInf) == 0x7E);  // saturation clamps infinities as well
  CHECK(e4m3(-kInf) == 0xFE);
  CHECK(e4m3(kInf, Saturation::none) == 0x7F);
  CHECK(e4m3(-kInf, Saturation::none) == 0xFF);
}

TEST_CASE("NaN converts to 0x7F whatever its sign [ex09.1]") {
  for (Saturation s : {Saturation::finite, Saturation::none}) {
    CHECK(e4m3(kNaN, s) == 0x7F);
    CHECK(e4m3(-kNaN, s) == 0x7F);
    CHECK(e4m3(bits_to_float(0x7F800001u), s) == 0x7F);  // a signalling NaN
    CHECK(e5m2(-kNaN, s) == 0x7F);
  }
}

TEST_CASE("e5m2 rounds like fp16 with two mantissa bits and overflows to inf at 61440") {
  CHECK(e5m2(1.0f) == 0x3C);  // the top byte of fp16's 0x3C00
  CHECK(e5m2(57344.0f) == 0x7B);
  CHECK(e5m2(1.125f) == 0x3C);  // a tie between 1 and 1.25: 1 is even
  CHECK(e5m2(1.375f) == 0x3E);  // a tie between 1.25 and 1.5: 1.5 is even
  CHECK(e5m2(0x1p-16f) == 0x01);  // smallest subnormal
  CHECK(e5m2(0x1p-17f) == 0x00);  // its half: a tie with 0
  CHECK(e5m2(next_up(0x1p-17f)) == 0x01);
  CHECK(e5m2(0x7p-17f) == 0x04);  // 3.5 * 2^-16 ties up to the smallest normal 2^-14
  CHECK(e5m2(next_down(61440.0f), Saturation::none) == 0x7B);
  CHECK(e5m2(61440.0f, Saturation::none) == 0x7C);  // the tie goes to the even code: inf
  CHECK(e5m2(-61440.0f, Saturation::none) == 0xFC);
  CHECK(e5m2(61440.0f) == 0x7B);
  CHECK(e5m2(kInf) == 0x7B);
  CHECK(e5m2(-kInf, Saturation::none) == 0xFC);
}

TEST_CASE("every fp8 byte decodes to the value of its fields") {
  for (Fp8Format format : {Fp8Format::e4m3, Fp8Format::e5m2}) {
    const int m = format == Fp8Format::e4m3 ? 3 : 2, bias = format == Fp8Format::e4m3 ? 7 : 15;
    for (int b = 0; b < 256; ++b) {
      const auto byte = static_cast<std::uint8_t>(b);
      const float v = fp8_bits_to_float(byte, format);
      const int sign = b >> 7, e = (b & 0x7F) >> m, mant = b & ((1 << m) - 1);
      if (fp8_is_nan(byte, format)) {
        CHECK(float_to_bits(v) == 0x7FFFFFFFu);
        continue;
      }
      if (format == Fp8Format::e5m2 && e == 31) {
        CHECK(v == (sign ? -kInf : kInf));
        continue;
      }
      const double magnitude = e == 0 ? std::ldexp(mant, 1 - bias - m) : std::ldexp(1.0 + std::ldexp(mant, -m), e - bias);
      CHECK(static_cast<double>(v) == (sign ? -magnitude : magnitude));
      CHECK(std::signbit(v) == (sign == 1));
      // Every value converts back to its own byte, in both modes.
      CHECK(float_to_fp8_bits(v, format, Saturation::none) == byte);
    }
  }
  CHECK(fp8_bits_to_float(0x7E, Fp8Format::e4m3) == kE4m3Max);
  CHECK(fp8_bits_to_float(0x7B, Fp8Format::e5m2) == kE5m2Max);
}

TEST_CASE("the fp8 types are CUDA-sized and saturate on construction") {
  CHECK(fp8_e4m3(1000.0f).bits == 0x7E);
  CHECK(fp8_e5m2(-1e9f).bits == 0xFB);
  CHECK(to_float(fp8_e4m3(0.3f)) == 0.3125f);
  CHECK(to_float(fp8_e5m2(0.3f)) == 0.3125f);
  CHECK(fp8_e4m3{}.bits == 0);
}
