// The schedules on the host: Noam (exercise 06.2) against the formula written out in long
// double at chosen steps (1, warmup, warmup + 1, far beyond), the warmups' exact values,
// cosine's end points, the Schedule's step count and state, and bad input.
#include <doctest/doctest.h>

#include <cmath>

#include "common/error.hpp"
#include "kernels/optim/schedule.hpp"

using namespace halfway::optim;

namespace {

// Vaswani et al.'s formula, independently: long double, pow.
long double noam_reference(long double factor, long double d_model, long double warmup, long double step) {
  return factor * std::pow(d_model, -0.5L) * std::min(std::pow(step, -0.5L), step * std::pow(warmup, -1.5L));
}

ScheduleOptions noam(std::int64_t warmup, std::int64_t d_model = 128, double factor = 1.0) {
  ScheduleOptions o;
  o.kind = ScheduleKind::noam;
  o.warmup = warmup;
  o.d_model = d_model;
  o.factor = factor;
  return o;
}

// lr_at computes in double: a handful of operations (a sqrt, two divisions, a product),
// each within 2^-53 relative, plus the reference's own long double error: 8 * 2^-53.
void check_noam(const ScheduleOptions& o, std::int64_t k) {
  const long double ref = noam_reference(o.factor, o.d_model, o.warmup, k);
  INFO("warmup ", o.warmup, ", step ", k);
  CHECK(std::fabs(double(lr_at(o, k) - ref)) <= double(ref) * 8 * 0x1p-53);
}

}  // namespace

TEST_CASE("schedule: Noam at step 1 warmup warmup + 1 and far beyond [ex06.2]") {
  for (auto o : {noam(4000, 512), noam(400, 128), noam(1, 128), noam(4000, 128, 2.0)})
    for (std::int64_t k : {std::int64_t(1), std::int64_t(2), o.warmup - 1, o.warmup, o.warmup + 1, 10 * o.warmup,
                           std::int64_t(1) << 40})
      if (k >= 1) check_noam(o, k);
  // The paper's base setting: warmup 4000, d_model 512: the rate at step 1 is 512^-0.5 *
  // 4000^-1.5, the peak (step 4000) 1 / sqrt(512 * 4000) = 6.99e-4.
  CHECK(lr_at(noam(4000, 512), 4000) == doctest::Approx(1.0 / std::sqrt(512.0 * 4000.0)).epsilon(1e-15));
}

TEST_CASE("schedule: Noam rises to its peak at warmup then decays [ex06.2]") {
  const auto o = noam(400, 128);
  for (std::int64_t k = 1; k < 400; ++k) CHECK(lr_at(o, k) < lr_at(o, k + 1));
  for (std::int64_t k = 400; k < 2000; ++k) CHECK(lr_at(o, k) > lr_at(o, k + 1));
  // The seed's mistake: warmup 4000 in a run of 320 steps never leaves warmup, its last
  // rate is 320 / 4000 = 8% of the peak.
  const auto seed = noam(4000, 128);
  CHECK(lr_at(seed, 320) / lr_at(seed, 4000) == doctest::Approx(0.08).epsilon(1e-12));
}

TEST_CASE("schedule: Noam values by hand with d_model^-0.5 and factor [ex06.2]") {
  // Powers of four make every term exact: d_model 64, warmup 16 give 64^-0.5 = 1/8 and
  // warmup^-1.5 = 1/64, so lr = factor / 8 * min(step^-0.5, step / 64).
  CHECK(lr_at(noam(16, 64), 1) == 1.0 / 512);      // 1/8 * 1/64 (warmup)
  CHECK(lr_at(noam(16, 64), 4) == 1.0 / 128);      // 1/8 * 4/64
  CHECK(lr_at(noam(16, 64), 16) == 1.0 / 32);      // the peak: 1/8 * min(1/4, 16/64)
  CHECK(lr_at(noam(16, 64), 64) == 1.0 / 64);      // 1/8 * 64^-0.5 (decay)
  CHECK(lr_at(noam(16, 64, 3.0), 64) == 3.0 / 64);  // factor multiplies
  CHECK(lr_at(noam(16, 256), 64) == 1.0 / 128);    // d_model 4x: half the rate
  CHECK(lr_at(noam(16, 1), 64) == 1.0 / 8);        // d_model 1: no factor
}

TEST_CASE("schedule: linear warmup then cosine to a floor or inverse square root") {
  ScheduleOptions c;
  c.kind = ScheduleKind::warmup_cosine;
  c.peak = 1e-3, c.warmup = 100, c.total = 1100, c.floor = 1e-5;
  CHECK(lr_at(c, 1) == 1e-3 * 1.0 / 100.0);
  CHECK(lr_at(c, 50) == 1e-3 * 50.0 / 100.0);
  CHECK(lr_at(c, 100) == 1e-3);
  CHECK(lr_at(c, 600) == doctest::Approx((1e-3 + 1e-5) / 2).epsilon(1e-14));  // cos(pi / 2) = 0
  CHECK(lr_at(c, 1100) == 1e-5);
  CHECK(lr_at(c, 5000) == 1e-5);  // stays at the floor
  for (std::int64_t k = 100; k < 1100; ++k) CHECK(lr_at(c, k + 1) <= lr_at(c, k));

  ScheduleOptions s;
  s.kind = ScheduleKind::warmup_inv_sqrt;
  s.peak = 2e-3, s.warmup = 250;
  CHECK(lr_at(s, 125) == 1e-3);
  CHECK(lr_at(s, 250) == 2e-3);
  CHECK(lr_at(s, 1000) == 1e-3);  // sqrt(250 / 1000) = 1/2
  CHECK(lr_at(s, 251) < 2e-3);

  ScheduleOptions k;
  k.peak = 3e-4;
  CHECK(lr_at(k, 1) == 3e-4);
  CHECK(lr_at(k, 1000000) == 3e-4);
}

TEST_CASE("schedule: the step count advances and its state is saved and restored") {
  Schedule s(noam(4000, 128));
  CHECK(s.steps() == 0);
  CHECK(s.lr() == lr_at(noam(4000, 128), 1));
  for (int i = 0; i < 10; ++i) s.step();
  CHECK(s.lr() == lr_at(noam(4000, 128), 11));
  const ScheduleState saved = s.state();
  Schedule t(noam(4000, 128));
  t.load(saved);
  CHECK(t.steps() == 10);
  CHECK(t.lr() == s.lr());
}

TEST_CASE("schedule: bad input is one clear Error each") {
  CHECK_THROWS_WITH_AS(Schedule(noam(0)), doctest::Contains("warmup"), halfway::Error);
  CHECK_THROWS_WITH_AS(lr_at(noam(400), -5), doctest::Contains("step >= 1"), halfway::Error);
  CHECK_THROWS_WITH_AS(lr_at(noam(400), 0), doctest::Contains("step >= 1"), halfway::Error);
  CHECK_THROWS_WITH_AS(Schedule(noam(400, 0)), doctest::Contains("d_model"), halfway::Error);
  CHECK_THROWS_WITH_AS(Schedule(noam(400, 128, -1.0)), doctest::Contains("factor"), halfway::Error);
  Schedule s(noam(400));
  CHECK_THROWS_WITH_AS(s.load(ScheduleState{-1}), doctest::Contains("step count >= 0"), halfway::Error);
  ScheduleOptions c;
  c.kind = ScheduleKind::warmup_cosine;
  c.warmup = 100, c.total = 100;
  CHECK_THROWS_WITH_AS(Schedule{c}, doctest::Contains("total"), halfway::Error);
  c.total = 200, c.floor = 1.0;
  CHECK_THROWS_WITH_AS(Schedule{c}, doctest::Contains("floor"), halfway::Error);
  c.floor = 0.0, c.warmup = -3;
  CHECK_THROWS_WITH_AS(Schedule{c}, doctest::Contains("warmup"), halfway::Error);
  ScheduleOptions k;
  k.peak = std::nan("");
  CHECK_THROWS_WITH_AS(Schedule{k}, doctest::Contains("learning rate"), halfway::Error);
  CHECK_THROWS_AS(parse_schedule_kind("linear"), halfway::UsageError);
}
