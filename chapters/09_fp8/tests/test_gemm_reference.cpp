// The cpu fp8 GEMM (kernels/fp8/gemm_reference.hpp): exact where every value is an
// integer small enough for float, its summation order where that order shows, and
// within a bound derived from its order of operations against fp64 on random operands.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/fp8/fp8.hpp"
#include "kernels/fp8/gemm_reference.hpp"

using namespace halfway;
using namespace halfway::fp8;

namespace {
std::vector<float> gemm(const Fp8GemmShape& s, const std::vector<std::uint8_t>& a, float sa,
                        const std::vector<std::uint8_t>& b, float sb) {
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n), -1.0f);
  fp8_gemm_reference(s, a.data(), sa, b.data(), sb, c.data());
  return c;
}
}  // namespace

TEST_CASE("fp8 GEMM is exact on small integers in both format mixes and odd shapes") {
  // Integers up to 8 are exact in e4m3 and e5m2; K = 37 products of at most 64 sum to at
  // most 2368 < 2^24, and the power-of-two inverse scales are exact: no rounding at all.
  for (Fp8Format af : {Fp8Format::e4m3, Fp8Format::e5m2}) {
    const Fp8GemmShape s{5, 7, 37, af, Fp8Format::e4m3};
    std::vector<std::uint8_t> a(5 * 37), b(7 * 37);
    std::vector<int> ai(a.size()), bi(b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      ai[i] = static_cast<int>((i * 7 + 3) % 17) - 8;  // -8..8
      a[i] = float_to_fp8_bits(static_cast<float>(ai[i]), af, Saturation::none);
    }
    for (std::size_t i = 0; i < b.size(); ++i) {
      bi[i] = static_cast<int>((i * 5 + 1) % 15) - 7;  // -7..7
      b[i] = float_to_e4m3_bits(static_cast<float>(bi[i]), Saturation::none);
    }
    const std::vector<float> c = gemm(s, a, 0.125f, b, 0.25f);
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 7; ++j) {
        long exact = 0;
        for (int p = 0; p < 37; ++p) exact += ai[i * 37 + p] * bi[j * 37 + p];
        CHECK(c[i * 7 + j] == std::ldexp(static_cast<float>(exact), -5));
      }
  }
}

TEST_CASE("fp8 GEMM adds its products in ascending k") {
  // p = 57344 * 448 = 49 * 2^19 lies in [2^24, 2^25), where floats are 2 apart: p + 1 is
  // a tie that rounds to the even p. So (p + 1) - p is 0 in float, and (p - p) + 1 is 1.
  const Fp8GemmShape s{1, 2, 3, Fp8Format::e5m2, Fp8Format::e4m3};
  const std::uint8_t big = float_to_e5m2_bits(57344.0f, Saturation::none), one5 = float_to_e5m2_bits(1.0f, Saturation::none);
  const std::uint8_t max4 = float_to_e4m3_bits(448.0f, Saturation::none), one4 = float_to_e4m3_bits(1.0f, Saturation::none);
  const std::uint8_t neg4 = float_to_e4m3_bits(-448.0f, Saturation::none);
  const std::vector<std::uint8_t> a = {big, one5, big};
  // Row 0 of B makes the products p, 1, -p; row 1 makes -p, 1, p.
  const std::vector<std::uint8_t> b = {max4, one4, neg4, neg4, one4, max4};
  const std::vector<float> c = gemm(s, a, 1.0f, b, 1.0f);
  CHECK(c[0] == 0.0f);  // (p + 1) - p
  CHECK(c[1] == 0.0f);  // (-p + 1) + p: the tie again
  const std::vector<std::uint8_t> a2 = {big, big, one5};
  const std::vector<std::uint8_t> b2 = {max4, neg4, one4, max4, max4, one4};
  const std::vector<float> c2 = gemm(s, a2, 1.0f, b2, 1.0f);
  CHECK(c2[0] == 1.0f);  // (p - p) + 1
  CHECK(c2[1] == 51380224.0f + 0.0f);  // p + p + 1 = 2p + 1 rounds to the even 2p (spacing 4)
}

TEST_CASE("fp8 GEMM stays within its derived error bound of fp64 on random operands") {
  // Each product is exact, the K - 1 additions each round by at most u = 2^-24 relative:
  // |acc - S| <= gamma(K - 1) * sum |p_k|, gamma(n) = n u / (1 - n u) (Higham, 2002, 4.2).
  // The scale product and the final multiply add two roundings:
  // |C - S sa sb| <= sa sb ((1 + u)^2 gamma(K - 1) sum |p_k| + 3u |S|).
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> byte(0, 255);
  for (Fp8Format af : {Fp8Format::e4m3, Fp8Format::e5m2}) {
    const Fp8GemmShape s{9, 11, 300, af, Fp8Format::e4m3};
    std::vector<std::uint8_t> a(9 * 300), b(11 * 300);
    auto finite_code = [&](Fp8Format f) {
      for (;;) {
        const auto q = static_cast<std::uint8_t>(byte(rng));
        if (std::isfinite(fp8_bits_to_float(q, f))) return q;
      }
    };
    for (auto& q : a) q = finite_code(af);
    for (auto& q : b) q = finite_code(Fp8Format::e4m3);
    const float sa = 1.0f / 3.0f, sb = 0.01f;  // not powers of two: the scale product rounds
    const std::vector<float> c = gemm(s, a, sa, b, sb);
    const double u = 0x1p-24, gamma = 299 * u / (1 - 299 * u);
    int loose = 0;
    for (int i = 0; i < 9; ++i)
      for (int j = 0; j < 11; ++j) {
        double sum = 0, sum_abs = 0;
        for (int p = 0; p < 300; ++p) {
          const double prod = double(fp8_bits_to_float(a[i * 300 + p], af)) * fp8_bits_to_float(b[j * 300 + p], Fp8Format::e4m3);
          sum += prod;  // exact in double: 300 products of at most 8 bits between 2^-25 and 2^25
          sum_abs += std::fabs(prod);
        }
        const double ssab = double(sa) * double(sb);
        const double bound = ssab * ((1 + u) * (1 + u) * gamma * sum_abs + 3 * u * std::fabs(sum));
        const double error = std::fabs(double(c[i * 11 + j]) - sum * ssab);
        CHECK(error <= bound);
        loose += error > 0;
      }
    CHECK(loose > 0);  // the float sum did round somewhere: the bound is tested, not idle
  }
}

TEST_CASE("fp8 GEMM propagates NaN and rejects a negative size") {
  const Fp8GemmShape s{1, 1, 2, Fp8Format::e4m3, Fp8Format::e4m3};
  const std::vector<float> c = gemm(s, {0x38, kFp8NaN}, 1.0f, {0x38, 0x38}, 1.0f);
  CHECK(std::isnan(c[0]));
  const Fp8GemmShape bad{1, -1, 2, Fp8Format::e4m3, Fp8Format::e4m3};
  float out = 0;
  const std::uint8_t q = 0;
  CHECK_THROWS_WITH_AS(fp8_gemm_reference(bad, &q, 1.0f, &q, 1.0f, &out), "fp8 GEMM: expected sizes >= 0, found m 1, n -1, k 2",
                       std::exception);
}
