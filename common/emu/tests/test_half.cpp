// __half, __half2, __nv_bfloat16: conversions (rounding, overflow, subnormals, NaN) and
// arithmetic, on the host and inside a kernel.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/emu/tests/helpers.hpp"

namespace halfway::emu {

__global__ void half_math(const __half* in, __half* out) {
  const __half a = in[0], b = in[1], c = in[2];
  out[0] = __hadd(a, b);
  out[1] = __hmul(a, b);
  out[2] = __hfma(a, b, c);
  out[3] = a * b + c;  // two roundings
  out[4] = __hmax(a, b);
  out[5] = __hmin(a, b);
  out[6] = hsqrt(__float2half(6.25f));
  out[7] = hexp(__float2half(0.0f));
  out[8] = -a;
  out[9] = __hsub(a, b);
  out[10] = __hdiv(b, __float2half(4.0f));
  const __half2 p = __halves2half2(a, b);
  const __half2 q = __hfma2(p, p, __float2half2_rn(1.0f));
  out[11] = __low2half(q);
  out[12] = __high2half(q);
  out[13] = __hmax(__float2half(NAN), b);
}

}  // namespace halfway::emu

namespace halfway::emu_test {
using namespace ::halfway::emu;
using simt::__half;
using simt::__nv_bfloat16;

namespace {
unsigned short bits(__half h) { return simt::__half_as_ushort(h); }
unsigned short bits(__nv_bfloat16 h) { return simt::__bfloat16_as_ushort(h); }
__half from_bits(unsigned short b) { return simt::__ushort_as_half(b); }
}  // namespace

TEST_CASE("emu: float to half rounds to nearest even with fp16 range rules") {
  CHECK(bits(simt::__float2half(1.0f)) == 0x3c00);
  CHECK(bits(simt::__float2half(-2.0f)) == 0xc000);
  CHECK(bits(simt::__float2half(65504.0f)) == 0x7bff);
  CHECK(bits(simt::__float2half(65519.0f)) == 0x7bff);
  CHECK(bits(simt::__float2half(65520.0f)) == 0x7c00);
  CHECK(bits(simt::__float2half(-1e9f)) == 0xfc00);
  CHECK(bits(simt::__float2half(std::ldexp(1.0f, -24))) == 0x0001);
  CHECK(bits(simt::__float2half(std::ldexp(1.0f, -25))) == 0x0000);  // tie goes to even zero
  CHECK(bits(simt::__float2half(std::ldexp(3.0f, -26))) == 0x0001);
  CHECK(bits(simt::__float2half(-0.0f)) == 0x8000);
  CHECK(bits(simt::__float2half(1.0f + std::ldexp(1.0f, -11))) == 0x3c00);       // tie to even
  CHECK(bits(simt::__float2half(1.0f + 3 * std::ldexp(1.0f, -11))) == 0x3c02);   // tie to even
  CHECK(bits(simt::__float2half(NAN)) == 0x7fff);
  CHECK(bits(simt::__float2half(-NAN)) == 0x7fff);
  CHECK(bits(simt::__double2half(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40))) == 0x3c01);  // one rounding
  CHECK(simt::__half2float(from_bits(0x3555)) == 0.333251953125f);
  CHECK(simt::__half2float(from_bits(0x0001)) == std::ldexp(1.0f, -24));
  CHECK(std::isinf(simt::__half2float(from_bits(0xfc00))));
  CHECK(std::isnan(simt::__half2float(from_bits(0x7e00))));
}

TEST_CASE("emu: float to bfloat16 rounds to nearest even") {
  CHECK(bits(simt::__float2bfloat16(1.0f)) == 0x3f80);
  CHECK(bits(simt::__float2bfloat16(1.0f + std::ldexp(1.0f, -8))) == 0x3f80);
  CHECK(bits(simt::__float2bfloat16(1.0f + 3 * std::ldexp(1.0f, -8))) == 0x3f82);
  CHECK(bits(simt::__float2bfloat16(3.4e38f)) == 0x7f80);  // rounds past the largest finite
  CHECK(bits(simt::__float2bfloat16(NAN)) == 0x7fff);
  CHECK(simt::__bfloat162float(simt::__ushort_as_bfloat16(0x4049)) == 3.140625f);
  CHECK(bits(simt::__double2bfloat16(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40))) == 0x3f81);
}

TEST_CASE("emu: __hfma rounds once") {
  // 0.50048828125 * -0.9990234375 + 1025 = 1024.5 + 2^-21: rounding the product and sum to
  // fp32 first would give the tie 1024.5 and then 1024; one rounding gives 1025.
  const __half a(0.50048828125f), b(-0.9990234375f), c(1025.0f);
  CHECK(static_cast<float>(simt::__hfma(a, b, c)) == 1025.0f);
  // Against an exact oracle: with exponents in [-8, 8] the double result is exact.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  for (int k = 0; k < 20000; ++k) {
    const __half x(u(rng)), y(u(rng)), z(u(rng));
    const double exact = double(float(x)) * double(float(y)) + double(float(z));
    CHECK(bits(simt::__hfma(x, y, z)) == bits(simt::__double2half(exact)));
  }
}

TEST_CASE("emu: half and bfloat16 arithmetic in a kernel") {
  for_each_order([] {
    std::vector<__half> in = {__half(1.5f), __half(-2.25f), __half(0.125f)};
    DeviceBuffer<__half> din(3, in), dout(14);
    HALFWAY_LAUNCH(half_math, 1, 1, 0, 0)(din.get(), dout.get());
    const auto o = dout.host();
    CHECK(float(o[0]) == -0.75f);
    CHECK(float(o[1]) == -3.375f);
    CHECK(float(o[2]) == -3.25f);
    CHECK(float(o[3]) == -3.25f);
    CHECK(float(o[4]) == 1.5f);
    CHECK(float(o[5]) == -2.25f);
    CHECK(float(o[6]) == 2.5f);
    CHECK(float(o[7]) == 1.0f);
    CHECK(float(o[8]) == -1.5f);
    CHECK(float(o[9]) == 3.75f);
    CHECK(float(o[10]) == -0.5625f);
    CHECK(float(o[11]) == 3.25f);
    CHECK(float(o[12]) == 6.0625f);
    CHECK(float(o[13]) == -2.25f);  // a NaN operand loses to a number
  });
  const __nv_bfloat16 x(3.0f), y(0.5f);
  CHECK(float(x * y + x) == 4.5f);
  CHECK(float(simt::__hfma(x, y, x)) == 4.5f);
  CHECK(float(simt::__hmax(x, y)) == 3.0f);
  CHECK(float(simt::hsqrt(__nv_bfloat16(16.0f))) == 4.0f);
  const simt::__nv_bfloat162 p = simt::__floats2bfloat162_rn(1.0f, 2.0f);
  const simt::float2 q = simt::__bfloat1622float2(simt::__hmul2(p, p));
  CHECK(q.x == 1.0f);
  CHECK(q.y == 4.0f);
  CHECK(__half(2048.0f) + __half(1.0f) == __half(2048.0f));  // 2049 ties to even 2048
  CHECK(__half(1.0f) < __half(2.0f));
  CHECK(simt::__hisnan(__half(NAN)));
  CHECK(simt::__hisinf(__half(-1e6f)) == -1);
}

TEST_CASE("emu: 16-bit types are bit-compatible with CUDA's layout") {
  CHECK(sizeof(simt::__half) == 2);
  CHECK(sizeof(simt::__half2) == 4);
  CHECK(alignof(simt::__half2) == 4);
  CHECK(sizeof(simt::__nv_bfloat162) == 4);
  const simt::__half2 h = simt::__floats2half2_rn(1.0f, 2.0f);
  std::uint32_t u;
  std::memcpy(&u, &h, 4);
  CHECK(u == 0x40003c00u);  // .x in the low half
}

}  // namespace halfway::emu_test
