// Exercise 05.2: stochastic rounding to bf16 and fp16. Exact outcomes at hand-picked
// values and words (the threshold word is derived for each value below), no change for
// values already representable, NaN and inf kept, and unbiasedness over many draws within
// a derived bound.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <ios>
#include <vector>

#include "common/rng.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/optim/optimizer.hpp"
#include "kernels/optim/update_element.hpp"

using namespace halfway;
using namespace halfway::optim;

namespace {

template <class T>
float sr(float x, std::uint32_t r) {
  return float(stochastic_round<T>(x, r));
}

}  // namespace

TEST_CASE("stochastic rounding: exact outcomes around the threshold word [ex05.2]") {
  // bf16 at 1: spacing 2^-7. x = 1 + 2^-9 is a quarter of the way up; its float pattern's
  // low 16 bits are 0x4000, so it rounds up exactly when r >> 16 >= 0x10000 - 0x4000 = 0xC000.
  const float xb = 1.0f + 0x1p-9f;
  CHECK(sr<bfloat16>(xb, 0x00000000u) == 1.0f);
  CHECK(sr<bfloat16>(xb, 0xBFFFFFFFu) == 1.0f);
  CHECK(sr<bfloat16>(xb, 0xC0000000u) == 1.0f + 0x1p-7f);
  CHECK(sr<bfloat16>(xb, 0xFFFFFFFFu) == 1.0f + 0x1p-7f);
  CHECK(sr<bfloat16>(-xb, 0xC0000000u) == -(1.0f + 0x1p-7f));  // away from zero, symmetric
  CHECK(sr<bfloat16>(-xb, 0xBFFFFFFFu) == -1.0f);
  // fp16 at 1: spacing 2^-10. x = 1 + 2^-12: low 13 bits 0x0800; up when r >> 19 >= 0x1800.
  const float xh = 1.0f + 0x1p-12f;
  CHECK(sr<half>(xh, (0x17FFu << 19) | 0x7FFFFu) == 1.0f);
  CHECK(sr<half>(xh, 0x1800u << 19) == 1.0f + 0x1p-10f);
  CHECK(sr<half>(-xh, 0x1800u << 19) == -(1.0f + 0x1p-10f));
  // fp16 subnormals: 2.25 units of 2^-24 -> 3 units when r < 0.25 * 2^32
  const float xs = 2.25f * 0x1p-24f;
  CHECK(sr<half>(xs, 0x3FFFFFFFu) == 3.0f * 0x1p-24f);
  CHECK(sr<half>(xs, 0x40000000u) == 2.0f * 0x1p-24f);
  // far below the smallest subnormal: 2^-30 is 1/64 unit -> 2^-24 when r < 2^26, else 0
  CHECK(sr<half>(0x1p-30f, (1u << 26) - 1) == 0x1p-24f);
  CHECK(sr<half>(0x1p-30f, 1u << 26) == 0.0f);
  // just below fp16's smallest normal: 1023.5 units -> 1024 units = 2^-14 (a normal)
  CHECK(sr<half>(1023.5f * 0x1p-24f, 0) == 0x1p-14f);
  // above fp16's largest value: 65520 lies between 65504 and 65536 (inf): half way
  CHECK(sr<half>(65520.0f, 0x7FFFFFFFu) == 65504.0f);
  CHECK(std::isinf(sr<half>(65520.0f, 0x80000000u)));
  // inf and NaN stay what they are
  CHECK(std::isinf(sr<bfloat16>(INFINITY, 123)));
  CHECK(std::isnan(sr<half>(NAN, 123)));
}

TEST_CASE("stochastic rounding: representable values never change [ex05.2]") {
  const std::uint32_t words[] = {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 0x12345678u};
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
    bfloat16 b;
    b.bits = std::uint16_t(bits);
    half h;
    h.bits = std::uint16_t(bits);
    const float fb = float(b), fh = float(h);
    for (std::uint32_t r : words) {
      if (std::isfinite(fb)) REQUIRE_MESSAGE(stochastic_round<bfloat16>(fb, r).bits == b.bits, "bf16 bits " << bits);
      if (std::isfinite(fh)) REQUIRE_MESSAGE(stochastic_round<half>(fh, r).bits == h.bits, "fp16 bits " << bits);
    }
  }
}

TEST_CASE("stochastic rounding: NaN stays NaN and inf keeps its sign for every word [ex05.2]") {
  // Not numbers are not rounded: any NaN (quiet or signalling, either sign, payload in
  // the kept bits or only in the dropped ones) must stay a NaN in both formats, whatever
  // the random word; an infinity stays the infinity of its sign.
  const std::uint32_t nans[] = {0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFF800001u, 0x7F801FFFu,
                                0x7F802000u, 0x7FBFFFFFu, 0x7FFFE000u, 0x7FFFFFFFu, 0xFFFFFFFFu};
  std::vector<std::uint32_t> words = {0u, 1u, 0x7FFFFu, 0x80000u, 0xFFFFu, 0x10000u, 0x7FFFFFFFu, 0x80000000u,
                                      0xFFFFFFFFu};
  for (std::uint64_t i = 0; i < 256; ++i) words.push_back(rng::bits(2024, i));
  for (std::uint32_t r : words) {
    for (std::uint32_t bits : nans) {
      const float x = bits_to_float(bits);
      REQUIRE_MESSAGE(std::isnan(sr<half>(x, r)), "fp16, NaN bits " << std::hex << bits << " word " << r);
      REQUIRE_MESSAGE(std::isnan(sr<bfloat16>(x, r)), "bf16, NaN bits " << std::hex << bits << " word " << r);
    }
    for (float inf : {INFINITY, -INFINITY}) {
      REQUIRE_MESSAGE(sr<half>(inf, r) == inf, "fp16, " << inf << " word " << std::hex << r);
      REQUIRE_MESSAGE(sr<bfloat16>(inf, r) == inf, "bf16, " << inf << " word " << std::hex << r);
    }
  }
}

TEST_CASE("stochastic rounding: unbiased on average [ex05.2]") {
  // Each draw is lo or hi; with N independent words the mean's standard deviation is at
  // most (hi - lo) / (2 sqrt N). P(up) is realised exactly up to 2^-16 (bf16: 16-bit
  // words) or 2^-13 (fp16 normals) of (hi - lo) per value, which is the only bias. So
  // |mean - x| <= 6 sigma + 2^-13 (hi - lo) holds unless the RNG is broken (a 6-sigma
  // excursion: probability ~1e-9 per value; the draws are fixed, so the test is
  // deterministic).
  const int N = 1 << 14;
  for (int k = 0; k < 40; ++k) {
    const float x = float((k % 2 ? -1.0 : 1.0) * std::exp2(-30.0 + 50.0 * rng::uniform(99, std::uint64_t(k))));
    auto check = [&](auto tag, double lo, double hi) {
      using T = decltype(tag);
      double sum = 0;
      for (int i = 0; i < N; ++i) sum += double(sr<T>(x, rng::bits(1234 + std::uint64_t(k), std::uint64_t(i))));
      const double gap = std::fabs(hi - lo);
      const double bound = 6 * gap / (2 * std::sqrt(double(N))) + std::ldexp(gap, -13) + 1e-45;
      CHECK_MESSAGE(std::fabs(sum / N - double(x)) <= bound, "x = " << x);
    };
    // the neighbours: round toward zero, and one spacing further from zero
    const double ax = std::fabs(double(x)), sgn = x < 0 ? -1.0 : 1.0;
    const int e = std::ilogb(ax);
    const double sb = std::ldexp(1.0, e - 7);                      // bf16 spacing
    const double sh = std::ldexp(1.0, std::max(e, -14) - 10);      // fp16 spacing (subnormals: 2^-24)
    check(bfloat16{}, sgn * std::floor(ax / sb) * sb, sgn * (std::floor(ax / sb) + 1) * sb);
    if (ax < 65504.0) check(half{}, sgn * std::floor(ax / sh) * sh, sgn * (std::floor(ax / sh) + 1) * sh);
  }
}
