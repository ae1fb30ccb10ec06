// Tests of common/testing/check.hpp: the helpers every chapter's tests rely on.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/rng.hpp"
#include "common/testing/check.hpp"

using namespace halfway;
using namespace halfway::testing;

TEST_CASE("max_abs_diff finds the largest difference") {
  const std::vector<float> a{1, 2, 3};
  const std::vector<double> b{1, 2.5, 2};
  CHECK(max_abs_diff(a, b) == 1.0);
  CHECK(max_abs_diff(a, a) == 0.0);
  const std::array<float, 2> c{0, std::nanf("")};
  const std::array<float, 2> d{0, 0};
  CHECK(std::isnan(max_abs_diff(c, d)));
  CHECK_THROWS_AS(max_abs_diff(a, d), Error);
}

TEST_CASE("check_close passes within the bound and names the first failure") {
  const std::vector<float> ref{1, 10, 100, -100};
  // bound atol + rtol |ref| = 0.01 + 0.001 |ref|: 0.011, 0.02, 0.11, 0.11
  const std::vector<float> ok{1.01f, 10.015f, 100.1f, -100.1f};
  const CloseReport good = check_close(ok, ref, 0.01, 1e-3);
  CHECK(good.ok);
  CHECK(static_cast<bool>(good));
  CHECK(good.count == 4);
  CHECK(good.failures == 0);
  CHECK(good.max_abs_index == 2);
  CHECK(good.message.rfind("all 4 within |x - ref| <= 0.01 + 0.001 |ref|", 0) == 0);

  const std::vector<float> bad{1.0f, 10.5f, 100.0f, -99.0f};
  const CloseReport r = check_close(bad, ref, 0.01, 1e-3);
  CHECK_FALSE(r.ok);
  CHECK(r.failures == 2);
  CHECK(r.first_index == 1);
  CHECK(r.first_value == 10.5);
  CHECK(r.first_reference == 10.0);
  CHECK(r.first_bound == doctest::Approx(0.02));
  CHECK(r.max_abs_error == 1.0);
  CHECK(r.max_abs_index == 3);
  CHECK(r.message ==
        "2 of 4 out of |x - ref| <= 0.01 + 0.001 |ref|; first at [1]: x = 10.5, ref = 10, "
        "|x - ref| = 0.5 > 0.02");
}

TEST_CASE("check_close fails on nan and inf even where they agree") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x{0, inf};
  CHECK_FALSE(check_close(x, x, 1.0, 1.0).ok);
  const std::vector<float> nan{std::nanf(""), 0};
  const std::vector<float> zeros{0, 0};
  const CloseReport r = check_close(nan, zeros, 1e9, 0);
  CHECK_FALSE(r.ok);
  CHECK(r.first_index == 0);
  CHECK(r.message.find("(not finite)") != std::string::npos);
  CHECK_FALSE(check_close(zeros, nan, 1e9, 0).ok);  // a bad reference fails too
  CHECK_FALSE(all_finite(nan));
  CHECK(all_finite(zeros));
  CHECK_THROWS_AS(check_close(zeros, std::vector<float>{0}, 0, 0), Error);
}

TEST_CASE("the check macros report through doctest") {
  const std::vector<float> a{1, 2, 3};
  HALFWAY_CHECK_CLOSE(a, a, 0.0, 0.0);
  const std::vector<double> b{1, 2, 3};
  HALFWAY_REQUIRE_CLOSE(a, b, 0.0, 0.0);
}

TEST_CASE("ulp_distance counts representable floats between two values") {
  CHECK(ulp_distance(1.0f, 1.0f) == 0);
  CHECK(ulp_distance(1.0f, std::nextafter(1.0f, 2.0f)) == 1);
  CHECK(ulp_distance(std::nextafter(1.0f, 0.0f), std::nextafter(1.0f, 2.0f)) == 2);
  CHECK(ulp_distance(0.0f, -0.0f) == 0);
  const float tiny = std::numeric_limits<float>::denorm_min();
  CHECK(ulp_distance(-tiny, tiny) == 2);
  CHECK(ulp_distance(2.0f, 1.0f) == (1 << 23));  // one binade: 2^23 mantissas
}

TEST_CASE("random fills are reproducible and in range") {
  const std::vector<float> u = random_uniform(1000, 5, -2.0f, 3.0f);
  CHECK(u == random_uniform(1000, 5, -2.0f, 3.0f));
  CHECK(u != random_uniform(1000, 6, -2.0f, 3.0f));
  for (float x : u) {
    REQUIRE(x >= -2.0f);
    REQUIRE(x < 3.0f);
  }
  CHECK(u[17] == -2.0f + 5.0f * rng::uniform(5, 17));

  const std::vector<float> z = random_normal(100, 8, 10.0f, 2.0f);
  CHECK(z[3] == 10.0f + 2.0f * rng::normal(8, 3));

  const std::vector<float> k = random_integers(2000, 9, -3, 3);
  bool seen_lo = false, seen_hi = false;
  for (float x : k) {
    REQUIRE(x == std::floor(x));
    REQUIRE(x >= -3.0f);
    REQUIRE(x <= 3.0f);
    seen_lo = seen_lo || x == -3.0f;
    seen_hi = seen_hi || x == 3.0f;
  }
  // each end has probability 1/7 per draw: missing one in 2000 draws has (6/7)^2000 ~ 1e-134
  CHECK(seen_lo);
  CHECK(seen_hi);
  std::vector<float> part(10);
  fill_uniform(part, 5, -2.0f, 3.0f, /*offset=*/17);
  CHECK(part[0] == u[17]);
  CHECK_THROWS_AS(random_integers(1, 1, 2, 1), Error);
}
