// fp8 training (kernels/fp8/linear_fp8.hpp through the trainer): a short run on a tiny model
// learns with every Linear GEMM in fp8, the device state holds what delayed scaling says,
// evaluation records nothing, and the recipes' ablations run. The backend comes from
// HALFWAY_TEST_BACKEND (cpu, or emu where the fp8 GEMM kernel and the cast kernels run).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "kernels/fp8/linear_fp8.hpp"
#include "kernels/train/trainer.hpp"

using namespace halfway;
using namespace halfway::train;

namespace {
const bool kEmu = std::string(HALFWAY_TEST_BACKEND) != "cpu";

TrainerOptions tiny_fp8(int steps) {
  TrainerOptions o;
  o.model = model_preset("tiny");
  o.model.dropout = 0;
  o.backend = select_backend(HALFWAY_TEST_BACKEND);
  o.seed = 7;
  o.batch = 8;
  o.train_limit = 16;
  o.steps = steps;
  o.schedule.kind = optim::ScheduleKind::constant;
  o.schedule.peak = 3e-3;
  o.log_every = 1;
  o.fp8 = true;
  return o;
}

double mean3(const std::vector<double>& v, std::size_t at) { return (v[at] + v[at + 1] + v[at + 2]) / 3; }
}  // namespace

TEST_CASE("fp8 training: a short run learns with every Linear GEMM in fp8 [train]") {
  // The tiny model memorises 16 numbers: the loss starts near ln 13 = 2.56; a drop to half
  // is far inside what the bf16 run reaches in the same steps (ch07's learn test).
  const int steps = kEmu ? 40 : 120;
  Trainer<bfloat16> t(tiny_fp8(steps));
  std::vector<double> losses;
  std::int64_t gemms_before_last = 0;
  while (t.steps_done() < steps) {
    if (t.steps_done() == steps - 1) gemms_before_last = t.fp8_linears()->gemms();
    const StepResult r = t.step();
    REQUIRE(std::isfinite(r.loss));
    losses.push_back(r.loss);
  }
  CHECK(mean3(losses, losses.size() - 3) < 0.5 * mean3(losses, 0));
  // The tiny model's Linears: encoder 4 (attention's packed projection, its output, the
  // feed-forward's 2), decoder 7 (self 2, cross 3: q and kv separately, feed-forward 2),
  // the generator 1: 12 Linears, 3 GEMMs each (forward, dW, dx) per step.
  const fp8::Fp8Linears* g = t.fp8_linears();
  REQUIRE(g != nullptr);
  const auto report = g->report();
  CHECK(report.size() == 3 * 12);
  CHECK(g->gemms() - gemms_before_last == 3 * 12);
  for (const auto& e : report) {
    CAPTURE(e.linear);
    CAPTURE(e.role);
    CHECK(e.cast > 0);
    CHECK(e.history.size() == 16);
    CHECK(e.history.back() > 0.0f);
    // The device chose the scale exercise 09.2 gives from the history it keeps.
    const float max = e.role == "dy" ? kE5m2Max : kE4m3Max;
    CHECK(e.scale == fp8::delayed_scale(e.history.data(), 16, max, 0, e.scale));
    CHECK(e.scale == max / *std::max_element(e.history.begin(), e.history.end()));
    CHECK(to_string(e.format) == std::string(e.role == "dy" ? "e5m2" : "e4m3"));
  }
}

TEST_CASE("fp8 training: an evaluation casts with the step's scales and records nothing [train]") {
  Trainer<bfloat16> t(tiny_fp8(3));
  for (int i = 0; i < 3; ++i) t.step();
  const auto before = t.fp8_linears()->report();
  const std::int64_t gemms = t.fp8_linears()->gemms();
  const std::vector<int> numbers(t.train_numbers().begin(), t.train_numbers().begin() + 4);
  (void)t.evaluate(numbers);
  CHECK(t.fp8_linears()->gemms() > gemms);  // evaluation's forward GEMMs are fp8 too
  const auto after = t.fp8_linears()->report();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].cast == before[i].cast);
    CHECK(after[i].history == before[i].history);
    CHECK(after[i].scale == before[i].scale);
  }
}

TEST_CASE("fp8 training: the ablations run (no scaling keeps 1; e4m3 gradients; current scaling) [train]") {
  for (int which = 0; which < 3; ++which) {
    TrainerOptions o = tiny_fp8(kEmu ? 3 : 10);
    if (which == 0) o.fp8_recipe.scaling = fp8::Fp8Scaling::none;
    if (which == 1) o.fp8_recipe.grad_format = Fp8Format::e4m3;
    if (which == 2) o.fp8_recipe.scaling = fp8::Fp8Scaling::current;
    CAPTURE(which);
    Trainer<bfloat16> t(o);
    while (t.steps_done() < o.steps) REQUIRE(std::isfinite(t.step().loss));
    for (const auto& e : t.fp8_linears()->report()) {
      if (which == 0) CHECK(e.scale == 1.0f);
      if (which == 1) CHECK(e.format == Fp8Format::e4m3);
      if (which == 2) CHECK(e.scale != 1.0f);  // each tensor's own amax: never exactly max
    }
  }
}

TEST_CASE("fp8 training refuses fp16 storage and 16-bit gradients [train]") {
  TrainerOptions o = tiny_fp8(1);
  CHECK_THROWS_AS(Trainer<half>{o}, UsageError);
  o.grad_storage = layers::GradType::storage;
  CHECK_THROWS_AS(Trainer<bfloat16>{o}, UsageError);
}
