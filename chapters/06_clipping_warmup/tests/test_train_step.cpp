// The order of a training step (train_step.hpp) on the test's backend: the optimizer sees
// unscaled, clipped gradients; the ablation (clip before unscale) shrinks them by the
// scale; a skipped step does not call the optimizer and does not advance the schedule
// (unless asked to, as PyTorch's LambdaLR does).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "helpers.hpp"
#include "kernels/optim/train_step.hpp"

using namespace ch06;
using namespace halfway::optim;

namespace {

constexpr float kScale = 1024.0f;

ScheduleOptions noam400() {
  ScheduleOptions s;
  s.kind = ScheduleKind::noam, s.warmup = 400, s.d_model = 128;
  return s;
}

// 100 gradients of 1 (true norm 10), as a backward pass of loss * 1024 leaves them.
std::vector<float> scaled_grads() { return std::vector<float>(100, 1.0f * kScale); }

struct Run {
  StepReport report;
  double norm_seen = -1.0;  // the gradients' norm when the optimizer ran (-1: it did not)
  double lr_seen = -1.0;
  std::int64_t schedule_steps = 0;
  float scale_after = 0.0f;
};

Run run(const std::vector<float>& g, const TrainStepOptions& o) {
  amp::ScalerOptions so;
  so.init_scale = kScale;
  amp::GradScaler scaler(so);
  Schedule schedule(noam400());
  DeviceGrads<float> d(g);
  NormWorkspace ws;
  Run r;
  r.report = train_step(
      scaler, d.grads(), o, ws,
      [&](double lr) {
        r.lr_seen = lr;
        r.norm_seen = reference_norm(d.host());
      },
      schedule);
  r.schedule_steps = schedule.steps();
  r.scale_after = scaler.scale();
  return r;
}

// After clipping to max_norm: the coefficient carries 3 fp32 roundings, each product one
// more (2^-24), and 1e-6 / norm of the epsilon: |norm - max_norm| <= max_norm (5 2^-24 + 1e-7).
double clip_tolerance(double max_norm) { return max_norm * (5 * 0x1p-24 + 1e-7); }

}  // namespace

TEST_CASE("train step: unscale then clip: the optimizer sees the clipped true gradients") {
  TrainStepOptions o;
  o.clip_options.max_norm = 1.0f;
  const Run r = run(scaled_grads(), o);
  CHECK_FALSE(r.report.found_inf);
  CHECK_FALSE(r.report.skipped);
  CHECK(r.report.grad_norm == 10.0f);  // 1024 / 1024 = 1, 100 of them: exact
  CHECK(std::fabs(r.norm_seen - 1.0) <= clip_tolerance(1.0));
  CHECK(r.lr_seen == lr_at(noam400(), 1));
  CHECK(r.report.lr == r.lr_seen);
  CHECK(r.schedule_steps == 1);
  CHECK(r.scale_after == kScale);
}

TEST_CASE("train step: below max_norm the unscaled gradients pass unchanged") {
  TrainStepOptions o;
  o.clip_options.max_norm = 100.0f;
  const Run r = run(scaled_grads(), o);
  CHECK(r.report.grad_norm == 10.0f);
  CHECK(r.norm_seen == 10.0);  // coef 1: every gradient exactly 1
}

TEST_CASE("train step: the ablation clips the scaled gradients and the step is scale times too small") {
  TrainStepOptions o;
  o.clip_options.max_norm = 1.0f;
  o.clip_before_unscale = true;
  const Run r = run(scaled_grads(), o);
  CHECK(r.report.grad_norm == 10.0f * kScale);  // the norm the buggy clip saw
  // Clipped to 1 while scaled, then divided by the scale: 1 / 1024 instead of 1.
  CHECK(std::fabs(r.norm_seen - 1.0 / kScale) <= clip_tolerance(1.0 / kScale));
  // And with max_norm above the true norm (nothing should be clipped) the bug still clips.
  o.clip_options.max_norm = 100.0f;
  const Run q = run(scaled_grads(), o);
  CHECK(std::fabs(q.norm_seen - 100.0 / kScale) <= clip_tolerance(100.0 / kScale));
}

TEST_CASE("train step: an overflow skips the optimizer and the schedule") {
  auto g = scaled_grads();
  g[37] = std::numeric_limits<float>::infinity();
  TrainStepOptions o;
  o.clip_options = ClipOptions{1.0f, true};  // no error: the scaler handles the overflow
  const Run r = run(g, o);
  CHECK(r.report.found_inf);
  CHECK(r.report.skipped);
  CHECK(std::isinf(r.report.grad_norm));
  CHECK(r.norm_seen == -1.0);  // the optimizer did not run
  CHECK(r.report.lr == lr_at(noam400(), 1));
  CHECK(r.schedule_steps == 0);
  CHECK(r.scale_after == kScale / 2);  // backed off
  o.schedule_on_skipped = true;  // PyTorch's LambdaLR: counts the call anyway
  CHECK(run(g, o).schedule_steps == 1);
}

TEST_CASE("train step: a clip that refuses a non-finite norm leaves the scaler ready for the next step") {
  // The trainer's setting without loss scaling: nothing skips, so the clip refuses.
  amp::ScalerOptions so;
  so.mode = amp::ScaleMode::off;
  amp::GradScaler scaler(so);
  Schedule schedule(noam400());
  NormWorkspace ws;
  TrainStepOptions o;
  o.clip_options = ClipOptions{1.0f, true};
  auto g = scaled_grads();
  g[5] = std::numeric_limits<float>::quiet_NaN();
  DeviceGrads<float> bad(g);
  bool stepped = false;
  const auto optimizer = [&](double) { stepped = true; };
  CHECK_THROWS_AS(train_step(scaler, bad.grads(), o, ws, optimizer, schedule), halfway::Error);
  CHECK_FALSE(stepped);
  CHECK(schedule.steps() == 0);
  // The next step runs from the start: unscale() is not refused as a second unscale.
  DeviceGrads<float> good(scaled_grads());
  const StepReport r = train_step(scaler, good.grads(), o, ws, optimizer, schedule);
  CHECK(stepped);
  CHECK_FALSE(r.skipped);
  CHECK(schedule.steps() == 1);
  CHECK(scaler.skipped_steps() == 0);
}

TEST_CASE("train step: without clipping the norm is still measured") {
  TrainStepOptions o;
  o.clip = false;
  o.clip_options.max_norm = 1.0f;
  const Run r = run(scaled_grads(), o);
  CHECK(r.report.grad_norm == 10.0f);
  CHECK(r.norm_seen == 10.0);
}
