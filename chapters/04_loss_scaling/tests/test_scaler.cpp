// The GradScaler's rule and contract, on the host: the scale trajectory against a
// transcription of the reference implementations, the options, misuse and bad input.
//
// The references below are written from the sources' own code, not from ours:
// - PyTorch 1.13, aten/src/ATen/native/cuda/AmpKernels.cu (_amp_update_scale_cuda_kernel;
//   the cpu kernel is the same): the scale is a float tensor, factors are doubles.
// - Megatron-LM, megatron/optimizer/grad_scaler.py (DynamicGradScaler.update): hysteresis,
//   min_scale; the allowance refills when the scale grows.
// - Apex, apex/amp/scaler.py (LossScaler.update_scale): growth capped at max_loss_scale.
// The overflow pattern is seeded (Philox), with bursts, and the growth interval is 3 so
// that growth, capping and hysteresis all happen many times in 10,000 steps.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "common/error.hpp"
#include "common/rng.hpp"
#include "kernels/amp/grad_scaler.hpp"

using namespace halfway;
using namespace halfway::amp;

namespace {

// PyTorch: _amp_update_scale_ (no bounds, no hysteresis).
struct TorchRef {
  float scale;
  int tracker = 0;
  void update(bool found_inf, double growth, double backoff, int interval) {
    if (found_inf) {
      scale = static_cast<float>(scale * backoff);
      tracker = 0;
    } else {
      const int successful = tracker + 1;
      if (successful == interval) {
        const float new_scale = static_cast<float>(scale * growth);
        if (std::isfinite(new_scale)) scale = new_scale;
        tracker = 0;
      } else {
        tracker = successful;
      }
    }
  }
};

// Megatron: hysteresis and a minimum (growth unbounded), with Apex's cap on growth added
// when max_scale is finite.
struct MegatronRef {
  float scale;
  int hysteresis, hyst_left, tracker = 0;
  float min_scale, max_scale;
  void update(bool found_inf, double growth, double backoff, int interval) {
    if (found_inf) {
      tracker = 0;
      hyst_left -= 1;
      if (hyst_left <= 0) scale = std::fmax(static_cast<float>(scale * backoff), min_scale);
    } else {
      tracker += 1;
      if (tracker == interval) {
        tracker = 0;
        hyst_left = hysteresis;
        const float grown = static_cast<float>(scale * growth);
        if (std::isfinite(grown)) scale = std::fmin(grown, max_scale);
      }
    }
  }
};

// Step k overflows: 10% of steps at random, plus bursts of 1-6 overflows every 97 steps
// (so hysteresis allowances run out), a long clean stretch to reach the cap, and 250
// overflows in a row to reach the minimum.
bool overflows(std::int64_t k) {
  if (k >= 5000 && k < 6500) return false;
  if (k >= 8000 && k < 8250) return true;
  if (k % 97 < 1 + (k / 97) % 6 && k % 97 != 0) return true;
  return rng::uniform(0x5ca1e, std::uint64_t(k)) < 0.1;
}

// Drives a scaler through the contract of one step (unscale of an empty buffer: the found
// flag is forced through a 1-element buffer holding inf or 0).
void one_step(GradScaler& s, bool inf) {
  float g = inf ? INFINITY : 0.0f;
  s.unscale(GradBuffer{Backend::cpu, DType::f32, &g, 1});
  s.step();
  s.update();
}

}  // namespace

TEST_CASE("scaler: the rule equals PyTorch's over 10000 steps (growth interval 3) [ex04.1]") {
  for (double growth : {2.0, 1.5}) {
    ScalerOptions o;
    o.init_scale = 1024.0f;
    o.rule.growth_interval = 3;
    o.rule.growth_factor = growth;
    o.rule.backoff_factor = growth == 2.0 ? 0.5 : 0.7;
    GradScaler s(o);
    TorchRef ref{1024.0f};
    int grew = 0, backed = 0, capped = 0;
    for (std::int64_t k = 0; k < 10000; ++k) {
      const bool inf = overflows(k);
      const float before = ref.scale;
      ref.update(inf, o.rule.growth_factor, o.rule.backoff_factor, o.rule.growth_interval);
      one_step(s, inf);
      grew += ref.scale > before;
      backed += ref.scale < before;
      capped += !inf && ref.tracker == 0 && ref.scale == before;
      REQUIRE_MESSAGE(s.state().scale == ref.scale, "step " << k);
      REQUIRE_MESSAGE(s.state().growth_tracker == ref.tracker, "step " << k);
    }
    // The pattern exercises every branch, including growth refused at float's top.
    CHECK(grew > 100);
    CHECK(backed > 100);
    CHECK(capped > 0);
  }
}

TEST_CASE("scaler: hysteresis, minimum and maximum equal Megatron's and Apex's rule [ex04.1]") {
  struct Case { int hysteresis; float min_scale, max_scale; };
  for (Case c : {Case{2, 1.0f, INFINITY}, Case{3, 0.0f, 65536.0f}, Case{1, 4.0f, 1024.0f}}) {
    ScalerOptions o;
    o.init_scale = 256.0f;
    o.rule.growth_interval = 3;
    o.rule.hysteresis = c.hysteresis;
    o.rule.min_scale = c.min_scale;
    o.rule.max_scale = c.max_scale;
    GradScaler s(o);
    MegatronRef ref{256.0f, c.hysteresis, c.hysteresis, 0, c.min_scale, c.max_scale};
    int absorbed = 0, at_min = 0, at_max = 0;
    for (std::int64_t k = 0; k < 10000; ++k) {
      const bool inf = overflows(k);
      const float before = ref.scale;
      ref.update(inf, 2.0, 0.5, 3);
      one_step(s, inf);
      absorbed += inf && ref.scale == before && before > c.min_scale;
      at_min += ref.scale == c.min_scale;
      at_max += ref.scale == c.max_scale;
      REQUIRE_MESSAGE(s.state().scale == ref.scale, "step " << k << " hysteresis " << c.hysteresis);
      REQUIRE_MESSAGE(s.state().growth_tracker == ref.tracker, "step " << k);
      REQUIRE_MESSAGE(s.state().hysteresis_left == ref.hyst_left, "step " << k);
    }
    if (c.hysteresis > 1) CHECK(absorbed > 10);
    if (c.min_scale > 0) CHECK(at_min > 0);
    if (std::isfinite(c.max_scale)) CHECK(at_max > 0);
  }
}

TEST_CASE("scaler: the first steps by hand: PyTorch's defaults, and hysteresis 2 [ex04.1]") {
  GradScaler s;
  CHECK(s.scale() == 65536.0f);
  CHECK(s.options().rule.growth_interval == 2000);
  one_step(s, true);
  CHECK(s.scale() == 32768.0f);
  CHECK(s.skipped_steps() == 1);
  for (int k = 0; k < 1999; ++k) one_step(s, false);
  CHECK(s.scale() == 32768.0f);
  CHECK(s.state().growth_tracker == 1999);
  one_step(s, false);
  CHECK(s.scale() == 65536.0f);
  CHECK(s.state().growth_tracker == 0);
  // inv_scale is 1/scale in double, rounded to float.
  ScalerOptions o;
  o.init_scale = 3.0f;
  CHECK(GradScaler(o).inv_scale() == static_cast<float>(1.0 / 3.0));
  // Hysteresis 2 (Megatron): one overflow absorbed, the allowance refilled by growth. With
  // hysteresis 1 every overflow backs off, so PyTorch's steps cannot tell a rule that
  // ignores the allowance; these can.
  o = ScalerOptions{};
  o.rule.hysteresis = 2;
  GradScaler h(o);
  one_step(h, true);  // absorbed: the scale stays, the allowance drops to 1
  CHECK(h.scale() == 65536.0f);
  CHECK(h.state().hysteresis_left == 1);
  CHECK(h.skipped_steps() == 1);  // the step is skipped all the same
  one_step(h, true);  // allowance used up: back off
  CHECK(h.scale() == 32768.0f);
  one_step(h, true);  // and again on every overflow until the scale grows
  CHECK(h.scale() == 16384.0f);
  CHECK(h.state().hysteresis_left == -1);
  for (int k = 0; k < 2000; ++k) one_step(h, false);
  CHECK(h.scale() == 32768.0f);
  CHECK(h.state().hysteresis_left == 2);  // refilled by the growth
  for (int k = 0; k < 1000; ++k) one_step(h, false);
  one_step(h, true);  // absorbed, and the growth interval starts over
  CHECK(h.scale() == 32768.0f);
  CHECK(h.state().growth_tracker == 0);
  for (int k = 0; k < 1999; ++k) one_step(h, false);
  CHECK(h.scale() == 32768.0f);
  one_step(h, false);
  CHECK(h.scale() == 65536.0f);
}

TEST_CASE("scaler: growth stops below float's overflow [ex04.1]") {
  ScalerOptions o;
  o.init_scale = 0x1p126f;
  o.rule.growth_interval = 1;
  GradScaler s(o);
  one_step(s, false);
  CHECK(s.scale() == 0x1p127f);
  one_step(s, false);  // 2^128 is inf in float: refused, tracker restarts
  CHECK(s.scale() == 0x1p127f);
  CHECK(s.state().growth_tracker == 0);
  // A refused growth still refills the hysteresis allowance (the interval completed).
  o.rule.hysteresis = 2;
  GradScaler h(o);
  one_step(h, false);  // 2^127, allowance 2
  one_step(h, true);   // absorbed, allowance 1
  CHECK(h.scale() == 0x1p127f);
  one_step(h, false);  // refused growth, allowance back to 2
  CHECK(h.scale() == 0x1p127f);
  CHECK(h.state().hysteresis_left == 2);
  one_step(h, true);   // absorbed again
  CHECK(h.scale() == 0x1p127f);
  one_step(h, true);   // backs off
  CHECK(h.scale() == 0x1p126f);
}

TEST_CASE("scaler: a fixed scale never moves; off means scale 1 and no check") {
  ScalerOptions o;
  o.mode = ScaleMode::fixed;
  o.init_scale = 128.0f;
  o.rule.growth_interval = 1;
  GradScaler s(o);
  one_step(s, true);
  one_step(s, false);
  one_step(s, false);
  CHECK(s.scale() == 128.0f);
  CHECK(s.skipped_steps() == 1);  // the overflow still skipped its step

  o.mode = ScaleMode::off;
  GradScaler off(o);
  CHECK(off.scale() == 1.0f);
  float g = INFINITY;
  CHECK_FALSE(off.unscale(GradBuffer{Backend::cpu, DType::f32, &g, 1}));
  CHECK(g == INFINITY);  // untouched
  CHECK(off.step());
  off.update();
}

TEST_CASE("scaler: misuse is one clear error") {
  GradScaler s;
  float g[2] = {1.0f, 2.0f};
  const GradBuffer buf{Backend::cpu, DType::f32, g, 2};
  CHECK_THROWS_WITH_AS(s.step(), doctest::Contains("step() without an unscale()"), Error);
  CHECK_THROWS_WITH_AS(s.update(), doctest::Contains("update() with no inf check"), Error);
  s.unscale(buf);
  CHECK_THROWS_WITH_AS(s.unscale(buf), doctest::Contains("unscale() called again before update()"), Error);
  CHECK(s.step());
  CHECK_THROWS_WITH_AS(s.step(), doctest::Contains("step() called twice before update()"), Error);
  s.update();
  s.unscale(buf);  // a new step may begin
}

TEST_CASE("scaler: bad options are one clear error each") {
  auto with = [](auto change) {
    ScalerOptions o;
    change(o);
    return o;
  };
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.init_scale = 0.0f; })), doctest::Contains("positive finite loss scale"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.init_scale = -2.0f; })), doctest::Contains("positive finite"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.init_scale = INFINITY; })), doctest::Contains("positive finite"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.init_scale = NAN; })), doctest::Contains("positive finite"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.rule.growth_factor = 1.0; })), doctest::Contains("growth factor > 1"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.rule.backoff_factor = 1.0; })), doctest::Contains("backoff factor in (0, 1)"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.rule.backoff_factor = 0.0; })), doctest::Contains("backoff factor in (0, 1)"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.rule.growth_interval = 0; })), doctest::Contains("growth interval >= 1"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.rule.hysteresis = 0; })), doctest::Contains("hysteresis >= 1"), Error);
  CHECK_THROWS_WITH_AS(GradScaler(with([](auto& o) { o.rule.max_scale = 1024.0f; })), doctest::Contains("within [min_scale, max_scale]"), Error);
}

TEST_CASE("scaler: state saved and loaded continues the same trajectory") {
  ScalerOptions o;
  o.rule.growth_interval = 3;
  o.rule.hysteresis = 2;
  GradScaler a(o);
  for (std::int64_t k = 0; k < 500; ++k) one_step(a, overflows(k));
  GradScaler b(o);
  b.load(a.state());
  for (std::int64_t k = 500; k < 1000; ++k) {
    one_step(a, overflows(k));
    one_step(b, overflows(k));
    REQUIRE(a.state().scale == b.state().scale);
    REQUIRE(a.state().growth_tracker == b.state().growth_tracker);
    REQUIRE(a.state().hysteresis_left == b.state().hysteresis_left);
  }
  ScaleState bad = a.state();
  bad.growth_tracker = 3;
  CHECK_THROWS_WITH_AS(b.load(bad), doctest::Contains("growth tracker in [0, growth_interval)"), Error);
  bad = a.state();
  bad.scale = NAN;
  CHECK_THROWS_AS(b.load(bad), Error);
}

TEST_CASE("scaler: a scale that collapsed to 0 is saved and loaded like any other state") {
  GradScaler a;  // PyTorch's defaults: min_scale 0, so the backoffs end at 0
  int backoffs = 0;
  while (a.state().scale > 0.0f) {
    REQUIRE(backoffs < 200);  // 2^16 -> the smallest subnormal 2^-149 -> 0: 166 halvings
    one_step(a, true);
    ++backoffs;
  }
  CHECK(backoffs == 166);
  GradScaler b;
  b.load(a.state());
  CHECK(b.state().scale == 0.0f);
  CHECK(b.state().growth_tracker == a.state().growth_tracker);
  CHECK(b.state().hysteresis_left == a.state().hysteresis_left);
  one_step(a, false);
  one_step(b, false);
  CHECK(b.state().scale == a.state().scale);
  CHECK(b.state().growth_tracker == a.state().growth_tracker);
  ScaleState negative = a.state();
  negative.scale = -1.0f;
  CHECK_THROWS_WITH_AS(b.load(negative), doctest::Contains("a finite loss scale >= 0"), Error);
}
