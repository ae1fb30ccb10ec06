#include "kernels/optim/train_step.hpp"

#include <cmath>
#include <string>

#include "common/error.hpp"

namespace halfway::optim {

StepReport train_step(amp::GradScaler& scaler, const GradBuffer& grads, const TrainStepOptions& o,
                      NormWorkspace& ws, const OptimizerStep& optimizer, Schedule& schedule) {
  StepReport r;
  r.lr = schedule.lr();
  if (o.clip_before_unscale) {
    // The bug, on purpose: the scaled norm against an unscaled max_norm. No error on a
    // non-finite norm here: the unscale right after reports it as found_inf.
    ClipOptions scaled = o.clip_options;
    scaled.error_if_nonfinite = false;
    r.grad_norm = o.clip ? clip_grad_norm(grads, scaled, ws) : global_norm(grads, ws);
    r.found_inf = scaler.unscale(grads);
  } else {
    r.found_inf = scaler.unscale(grads);
    try {
      r.grad_norm = o.clip && !r.found_inf ? clip_grad_norm(grads, o.clip_options, ws) : global_norm(grads, ws);
    } catch (...) {  // the clip refused a non-finite norm: no step, and the scaler ready for the next
      scaler.abandon_step();
      throw;
    }
  }
  const bool step = scaler.step();
  if (step) optimizer(r.lr);
  scaler.update();
  r.skipped = !step;
  if (step || o.schedule_on_skipped) schedule.step();
  return r;
}

StepRule fused_rule(const amp::DeviceScaler& scaler, const TrainStepOptions& o) {
  HALFWAY_EXPECT(!o.clip_before_unscale, "clipping after the unscale in the fused step",
                 "clip_before_unscale (the ablation runs on train_step)");
  StepRule rule;
  rule.clip = o.clip;
  rule.max_norm = o.clip_options.max_norm;
  rule.skip_on_inf = scaler.options().mode != amp::ScaleMode::off;
  rule.skip_nonfinite_norm = o.clip && o.clip_options.error_if_nonfinite;
  return rule;
}

namespace {

// check+norm, the optimizer with the words folded in, the scaler's update: launches only.
StepWords* fused_launches(amp::DeviceScaler& scaler, const GradBuffer& grads, const StepRule& rule,
                          CheckNormWorkspace& ws, GradFold fold, const std::function<void(const GradFold&)>& optimizer) {
  amp::ScalerWords* sw = scaler.words(grads.backend);
  StepWords* w = check_and_norm(grads, sw, rule, ws);
  fold.inv_scale = &sw->inv_scale, fold.clip_coef = &w->clip_coef, fold.skip = &w->skip;
  optimizer(fold);
  scaler.update();
  return w;
}

}  // namespace

StepReport fused_train_step(amp::DeviceScaler& scaler, const GradBuffer& grads, const TrainStepOptions& o,
                            CheckNormWorkspace& ws, const FusedOptimizerStep& optimizer, Schedule& schedule) {
  const StepRule rule = fused_rule(scaler, o);
  StepReport r;
  r.lr = schedule.lr();
  StepWords* w = fused_launches(scaler, grads, rule, ws, GradFold{}, [&](const GradFold& f) { optimizer(r.lr, f); });
  StepWords seen;
  copy_out(grads.backend, &seen, w, sizeof seen);  // the step's one read-back: waits for its launches
  r.found_inf = rule.skip_on_inf && seen.found_inf != 0u;
  r.grad_norm = seen.grad_norm;
  r.skipped = seen.skip != 0u;
  if (rule.skip_nonfinite_norm && !r.found_inf && !std::isfinite(r.grad_norm))
    throw Error("fused step: the total gradient norm is " + std::to_string(r.grad_norm) +
                ", so the gradients cannot be clipped (error_if_nonfinite is set; the step was not taken)");
  if (!r.skipped || o.schedule_on_skipped) schedule.step();
  return r;
}

void device_train_step(amp::DeviceScaler& scaler, const GradBuffer& grads, const TrainStepOptions& o,
                       CheckNormWorkspace& ws, StepLogDevice& log, const StepPlan& plan,
                       const DeviceOptimizerStep& optimizer) {
  HALFWAY_EXPECT(!o.schedule_on_skipped, "a schedule that counts the steps taken in the device step",
                 "schedule_on_skipped");
  HALFWAY_EXPECT(log.log() != nullptr && log.backend() == grads.backend, "the step log on the gradients' backend",
                 log.log() ? std::string(to_string(log.backend())) : std::string("none (reset() it first)"));
  const StepRule rule = fused_rule(scaler, o);
  log.begin(scaler.words(grads.backend), plan);
  GradFold fold;
  fold.constants = &log.control()->constants;
  if (plan.adam) fold.sr_seed = &log.control()->sr_seed;
  const StepWords* w = fused_launches(scaler, grads, rule, ws, fold, optimizer);
  log.end(w, scaler.words(grads.backend), rule, plan.collapse_after);
}

}  // namespace halfway::optim
