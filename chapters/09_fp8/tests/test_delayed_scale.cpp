// Exercise 09.2, the scale of delayed scaling, and the delayed scaler that runs it after
// every step (kernels/fp8/scaling.hpp). The expected scales are computed here the way the
// rule states them: fp8_max / amax rounded to float, then divided by 2^margin (exact).
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/fp8/scaling.hpp"

using namespace halfway;
using namespace halfway::fp8;

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
float scale_of(std::vector<float> history, int margin = 0, float previous = 5.0f, float max = kE4m3Max) {
  return delayed_scale(history.data(), static_cast<int>(history.size()), max, margin, previous);
}
}  // namespace

TEST_CASE("the scale is fp8_max over the largest amax of the history [ex09.2]") {
  CHECK(scale_of({1.0f, 4.0f, 2.0f}) == 112.0f);                      // 448 / 4
  CHECK(scale_of({4.0f, 1.0f, 2.0f}) == 112.0f);                      // any order
  CHECK(scale_of({1.0f, 2.0f, 4.0f}, 0, 5.0f, kE5m2Max) == 14336.0f);  // 57344 / 4
  CHECK(scale_of({3.0f}) == 448.0f / 3.0f);                           // rounded to float once
  CHECK(scale_of({0.0f, 0.0f, 0.5f}) == 896.0f);                      // zeros of steps not run yet
  CHECK(scale_of({1000.0f}) == 0.448f);                               // a scale below 1
}

TEST_CASE("a margin divides the scale by 2^margin exactly [ex09.2]") {
  CHECK(scale_of({4.0f}, 1) == 56.0f);
  CHECK(scale_of({4.0f}, 3) == 14.0f);
  CHECK(scale_of({3.0f}, 2) == (448.0f / 3.0f) / 4.0f);
  CHECK(scale_of({0.1f}, 10) == (448.0f / 0.1f) / 1024.0f);
}

TEST_CASE("only the first length entries of the history count [ex09.2]") {
  const std::vector<float> h = {1.0f, 2.0f, 64.0f};
  CHECK(delayed_scale(h.data(), 2, kE4m3Max, 0, 5.0f) == 224.0f);  // 448 / 2: the 64 is outside
  CHECK(delayed_scale(h.data(), 3, kE4m3Max, 0, 5.0f) == 7.0f);
}

TEST_CASE("an all-zero history keeps the previous scale [ex09.2]") {
  CHECK(scale_of({0.0f, 0.0f, 0.0f}) == 5.0f);
  CHECK(scale_of({0.0f}, 3, 0.25f) == 0.25f);  // the margin is not applied again
}

TEST_CASE("an inf or NaN anywhere in the history keeps the previous scale [ex09.2]") {
  CHECK(scale_of({1.0f, kInf, 2.0f}) == 5.0f);
  CHECK(scale_of({kNaN, 1.0f}) == 5.0f);
  CHECK(scale_of({1.0f, kNaN}) == 5.0f);  // a max by comparisons skips a NaN in either place
  CHECK(scale_of({2.0f, 1.0f, kNaN}, 2, 7.0f) == 7.0f);
}

TEST_CASE("an amax too small for a finite scale gives the largest float [ex09.2]") {
  CHECK(scale_of({1e-38f}) == FLT_MAX);  // 448 / 1e-38 overflows float
  CHECK(scale_of({std::numeric_limits<float>::denorm_min()}, 2) == FLT_MAX / 4.0f);
  CHECK(std::isfinite(1.0f / scale_of({1e-38f})));
  CHECK(1.0f / scale_of({1e-38f}) > 0.0f);
}

TEST_CASE("a delayed scaler follows the history over steps [ex09.2]") {
  DelayedScaler s(Fp8Format::e4m3, DelayedRecipe{3, 1});
  CHECK(s.scale() == 1.0f);  // before any step: TE's initial scale
  s.update(0.0f);            // a step of zeros: nothing to scale by
  CHECK(s.scale() == 1.0f);
  s.update(8.0f);
  CHECK(s.scale() == 28.0f);  // 448 / 8 / 2
  s.update(2.0f);
  CHECK(s.scale() == 28.0f);  // 8 is still in the window {0, 8, 2}
  s.update(1.0f);
  CHECK(s.scale() == 28.0f);  // {8, 2, 1}
  s.update(1.0f);
  CHECK(s.scale() == 112.0f);  // 8 left the window: {2, 1, 1}
  s.update(kNaN);              // an overflowing step: the scale holds for H steps
  CHECK(s.scale() == 112.0f);
  s.update(1.0f);
  s.update(1.0f);
  CHECK(s.scale() == 112.0f);
  s.update(1.0f);
  CHECK(s.scale() == 224.0f);  // {1, 1, 1}
  CHECK(s.inv_scale() == 1.0f / 224.0f);
  CHECK(s.history() == std::vector<float>{1.0f, 1.0f, 1.0f});
}
