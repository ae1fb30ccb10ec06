// The cpu fp8 GEMM at training speed (kernels/fp8/gemm_packed.hpp) gives the reference's
// bits (kernels/fp8/gemm_reference.hpp) on every shape and format mix, on its AVX-512 path
// and on its plain path, special values included (a NaN's payload aside).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "common/host_simd.hpp"
#include "kernels/fp8/fp8.hpp"
#include "kernels/fp8/gemm_packed.hpp"

using namespace halfway;
using namespace halfway::fp8;

namespace {
bool same_as_reference(const Fp8GemmShape& s, std::mt19937& rng, bool specials) {
  std::vector<std::uint8_t> a(std::size_t(s.m * s.k)), b(std::size_t(s.n * s.k));
  // Random codes: every value of the format (NaN, e5m2's inf, subnormals and zeros too)
  // when `specials`, else the finite ones between -8 and 8 in magnitude (no NaN), whose sums round.
  std::uniform_int_distribution<int> code(0, 255);
  const auto draw = [&](Fp8Format f) {
    for (;;) {
      const auto q = static_cast<std::uint8_t>(code(rng));
      if (specials || (!fp8_is_nan(q, f) && std::fabs(fp8_bits_to_float(q, f)) <= 8.0f)) return q;
    }
  };
  for (auto& q : a) q = draw(s.a_format);
  for (auto& q : b) q = draw(s.b_format);
  const float sa = 0.375f, sb = 3.0f;  // not powers of two: the output's multiply rounds
  std::vector<float> want(std::size_t(s.m * s.n), -1.0f), got(want.size(), -2.0f);
  fp8_gemm_reference(s, a.data(), sa, b.data(), sb, want.data());
  fp8_gemm_packed(s, a.data(), sa, b.data(), sb, got.data());
  // Bit for bit, except that a NaN is any NaN: which operand's payload x86 passes on
  // depends on the order of an addition's operands, which the vector code does not fix.
  for (std::size_t i = 0; i < want.size(); ++i)
    if (std::isnan(want[i]) ? !std::isnan(got[i]) : std::memcmp(&want[i], &got[i], sizeof(float)) != 0) return false;
  return true;
}
}  // namespace

TEST_CASE("packed fp8 GEMM equals the reference bit for bit on odd shapes and every format mix [gemm]") {
  std::mt19937 rng(9);
  const Fp8GemmShape shapes[] = {{1, 1, 1}, {3, 17, 5}, {9, 33, 70}, {13, 16, 128}, {37, 50, 200}, {64, 96, 31}, {5, 3, 0}};
  for (int plain = 0; plain < 2; ++plain) {
    std::unique_ptr<simd::ForcePlain> force;
    if (plain) force = std::make_unique<simd::ForcePlain>();
    for (Fp8GemmShape s : shapes)
      for (Fp8Format af : {Fp8Format::e4m3, Fp8Format::e5m2})
        for (Fp8Format bf : {Fp8Format::e4m3, Fp8Format::e5m2})
          for (bool specials : {false, true}) {
            s.a_format = af, s.b_format = bf;
            CAPTURE(plain);
            CAPTURE(s.m);
            CAPTURE(s.n);
            CAPTURE(s.k);
            CAPTURE(specials);
            CHECK(same_as_reference(s, rng, specials));
          }
  }
}
