// Tests of common/rng.hpp: Philox against the published known answers, the derived
// numbers against an independent Python reference (rng_reference.py), and the
// distributions' moments against bounds derived from the sample size.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "common/rng.hpp"

using namespace halfway;

namespace {
// Five standard deviations of a sample mean: a correct generator fails such a check
// with probability below 1e-6.
constexpr double kSigmas = 5.0;
constexpr double k2pow24 = 16777216.0;
}  // namespace

TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors") {
  // Random123 tests/kat_vectors, the three "philox4x32 10" lines: ctr[4] key[2] -> out[4].
  struct Kat {
    rng::Block ctr;
    std::uint32_t k0, k1;
    rng::Block out;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Kat& k : kats) {
    const rng::Block got = rng::philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) CHECK(got.v[i] == k.out.v[i]);
  }
}

TEST_CASE("bits and uniform match the python reference") {
  // Printed by common/tests/rng_reference.py: seed, offset, bits, uniform * 2^24.
  struct Ref {
    std::uint64_t seed, offset;
    std::uint32_t bits, top24;
  };
  const Ref refs[] = {
      {0x0000000000000000ull, 0x0000000000000000ull, 0x6627E8D5u, 6694888u},
      {0x0000000000000000ull, 0x0000000000000001ull, 0xF8E4CCA4u, 16311500u},
      {0x0000000000000001ull, 0x0000000000000000ull, 0xE3E80670u, 14936070u},
      {0x000000000000002Aull, 0x0000000000000007ull, 0x5BBD83B1u, 6012291u},
      {0x000000000000002Aull, 0x0000000100000000ull, 0x42E0B8B3u, 4382904u},
      {0x0123456789ABCDEFull, 0xFEDCBA9876543210ull, 0x2C03A599u, 2884517u},
      {0x00000000000007EAull, 0x00000000075BCD15ull, 0x3D6CBF23u, 4025535u},
      {0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFFFFull, 0x4D18D7D2u, 5052631u},
  };
  for (const Ref& r : refs) {
    CAPTURE(r.seed);
    CAPTURE(r.offset);
    CHECK(rng::bits(r.seed, r.offset) == r.bits);
    // uniform is exact: the 24 top bits times 2^-24, compared in double.
    CHECK(static_cast<double>(rng::uniform(r.seed, r.offset)) == r.top24 / k2pow24);
  }
}

TEST_CASE("normal matches exact box-muller on the same bits") {
  // Printed by common/tests/rng_reference.py: seed, offset, exact value, its radius.
  struct Ref {
    std::uint64_t seed, offset;
    double value, radius;
  };
  const Ref refs[] = {
      {0x0000000000000000ull, 0x0000000000000000ull, 1.067590023374167, 1.149202473360849},
      {0x0000000000000000ull, 0x0000000000000001ull, 0.40496659474751634, 0.6848300638636923},
      {0x0000000000000001ull, 0x0000000000000000ull, -0.1650469297113944, 2.6815315355149174},
      {0x000000000000002Aull, 0x0000000000000007ull, -0.6820707732654128, 1.5545134124066935},
      {0x000000000000002Aull, 0x0000000100000000ull, 0.2639762631220023, 1.7469059712303399},
      {0x0123456789ABCDEFull, 0xFEDCBA9876543210ull, -1.1950722607236788, 1.887695496931732},
      {0x00000000000007EAull, 0x00000000075BCD15ull, -0.4093222643444849, 1.328134133347181},
      {0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFFFFull, 0.31857746155081773, 1.099949652574119},
  };
  for (const Ref& r : refs) {
    CAPTURE(r.seed);
    CAPTURE(r.offset);
    // Bound: the radius carries the log's relative error halved (<= 8 ulp, see the log
    // test) and the cosine an absolute error <= 4 * 2^-24 (see the cos test), plus the
    // final rounding: |z - exact| <= radius * 16 * 2^-24.
    const double bound = r.radius * 16.0 / k2pow24;
    CHECK(std::abs(static_cast<double>(rng::normal(r.seed, r.offset)) - r.value) <= bound);
  }
}

TEST_CASE("the logarithm of normal is accurate over its whole input range") {
  // Every n in [1, 2^24] (step 7, and the ends): relative error of ln(n 2^-24) against
  // the double-precision log. Bound: 8 x 2^-24 relative (2 to 4 float ulps): the series
  // is accurate to 2e-9, and each of the ~10 operations rounds once by at most 2^-24
  // relative, with cancellation only where m - 1, which is exact, is small.
  double worst = 0;
  auto check = [&](std::uint32_t n) {
    const double exact = std::log(n / k2pow24);
    const double got = rng::detail::log_n_times_2_pow_minus_24(n);
    if (n == (1u << 24)) {
      CHECK(got == 0.0);
      return;
    }
    const double rel = std::abs(got - exact) / std::abs(exact);
    if (rel > worst) worst = rel;
  };
  for (std::uint32_t n = 1; n <= (1u << 24); n += 7) check(n);
  check(1u << 24);
  check((1u << 24) - 1);
  check(2);
  MESSAGE("worst relative error of the log: " << worst << " (" << worst * k2pow24 << " x 2^-24)");
  CHECK(worst <= 8.0 / k2pow24);
}

TEST_CASE("the cosine of normal is accurate over a whole turn") {
  // Every j in [0, 2^24) (step 5): absolute error of cos(2 pi j 2^-24). Bound 4 * 2^-24:
  // the reduced angle carries one rounding (<= 2^-24 * pi/4 absolute), the polynomial
  // truncation is below 2e-9, and ~6 roundings of values <= 1 add at most 3 * 2^-24.
  double worst = 0;
  for (std::uint32_t j = 0; j < (1u << 24); j += 5) {
    const double exact = std::cos(2.0 * M_PI * (j / k2pow24));
    const double err = std::abs(rng::detail::cos_turns_2_pow_24(j) - exact);
    if (err > worst) worst = err;
  }
  MESSAGE("worst absolute error of the cosine: " << worst << " (" << worst * k2pow24 << " x 2^-24)");
  CHECK(worst <= 4.0 / k2pow24);
  CHECK(rng::detail::cos_turns_2_pow_24(0) == 1.0f);
  CHECK(rng::detail::cos_turns_2_pow_24(1u << 23) == -1.0f);  // half a turn
}

TEST_CASE("uniform has the mean and variance of U(0 1)") {
  constexpr std::size_t n = 1'000'000;
  double sum = 0, sum2 = 0;
  float lo = 1, hi = 0;
  bool on_grid = true;
  for (std::size_t i = 0; i < n; ++i) {
    const float u = rng::uniform(2026, i);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    const double scaled = u * k2pow24;
    on_grid = on_grid && scaled == std::floor(scaled);
    sum += u;
    sum2 += static_cast<double>(u) * u;
  }
  CHECK(on_grid);
  CHECK(lo >= 0.0f);
  CHECK(hi < 1.0f);
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // U(0,1): mean 1/2 with sd of the sample mean sqrt(1/12 / n); the sample variance 1/12
  // with sd sqrt((1/80 - 1/144) / n) (fourth central moment 1/80).
  CHECK(std::abs(mean - 0.5) <= kSigmas * std::sqrt(1.0 / 12 / n));
  CHECK(std::abs(var - 1.0 / 12) <= kSigmas * std::sqrt((1.0 / 80 - 1.0 / 144) / n));
}

TEST_CASE("normal has the moments of N(0 1)") {
  constexpr std::size_t n = 1'000'000;
  double sum = 0, sum2 = 0, within_one = 0, largest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double z = rng::normal(7, i);
    sum += z;
    sum2 += z * z;
    within_one += std::abs(z) <= 1.0;
    largest = std::max(largest, std::abs(z));
  }
  const double mean = sum / n, second = sum2 / n, p1 = within_one / n;
  // Sample mean: sd 1/sqrt(n). Mean of z^2: 1 with sd sqrt(2/n) (Var z^2 = 2).
  // P(|z| <= 1) = erf(1/sqrt 2) = 0.682689..., binomial sd sqrt(p (1 - p) / n).
  CHECK(std::abs(mean) <= kSigmas / std::sqrt(double(n)));
  CHECK(std::abs(second - 1.0) <= kSigmas * std::sqrt(2.0 / n));
  const double p = std::erf(1.0 / std::sqrt(2.0));
  CHECK(std::abs(p1 - p) <= kSigmas * std::sqrt(p * (1 - p) / n));
  // u1 >= 2^-24 bounds |z| by sqrt(2 * 24 ln 2).
  CHECK(largest <= std::sqrt(48.0 * std::log(2.0)) + 1e-5);
  CHECK(largest > 4.0);  // P(max of 1e6 below 4) = (1 - 6.3e-5)^1e6 ~ e^-63
}

TEST_CASE("keep drops the asked fraction") {
  constexpr std::size_t n = 200'000;
  std::size_t kept0 = 0, kept1 = 0, kept_p = 0;
  const float p = 0.1f;
  for (std::size_t i = 0; i < n; ++i) {
    kept0 += rng::keep(3, i, 0.0f);
    kept1 += rng::keep(3, i, 1.0f);
    kept_p += rng::keep(3, i, p);
    // keep is defined by uniform: the same element is kept or dropped on every backend.
    REQUIRE(rng::keep(3, i, p) == (rng::uniform(3, i) >= p));
  }
  CHECK(kept0 == n);
  CHECK(kept1 == 0);
  const double q = 1.0 - p;
  CHECK(std::abs(double(kept_p) / n - q) <= kSigmas * std::sqrt(q * (1 - q) / n));
}

TEST_CASE("draws depend only on seed and offset") {
  // Same inputs, same numbers, in any order.
  std::vector<std::uint32_t> forward, backward(1000);
  for (std::uint64_t i = 0; i < 1000; ++i) forward.push_back(rng::bits(99, i));
  for (std::uint64_t i = 1000; i-- > 0;) backward[i] = rng::bits(99, i);
  CHECK(forward == backward);
  // Other seeds, offsets and streams give other numbers: equal 32-bit words among 10^4
  // pairs happen with probability 10^4 / 2^32.
  int same_seed_neighbours = 0, same_offset_seeds = 0, normal_vs_uniform = 0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    same_seed_neighbours += rng::bits(99, i) == rng::bits(99, i + 1);
    same_offset_seeds += rng::bits(99, i) == rng::bits(100, i);
    normal_vs_uniform += rng::block(99, i, rng::kStreamBits).v[0] ==
                         rng::block(99, i, rng::kStreamNormal).v[0];
  }
  CHECK(same_seed_neighbours == 0);
  CHECK(same_offset_seeds == 0);
  CHECK(normal_vs_uniform == 0);
  // The high half of a 64-bit offset matters.
  CHECK(rng::bits(5, 1) != rng::bits(5, 1 + (1ull << 32)));
}

TEST_CASE("derive_seed separates purposes") {
  CHECK(rng::derive_seed(1, 2) == rng::derive_seed(1, 2));
  CHECK(rng::derive_seed(1, 2) != rng::derive_seed(1, 3));
  CHECK(rng::derive_seed(1, 2) != rng::derive_seed(2, 2));
  CHECK(rng::derive_seed(0, 0) != 0);
}
