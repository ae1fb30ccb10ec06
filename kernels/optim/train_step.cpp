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

StepReport fused_train_step(amp::DeviceScaler& scaler, const GradBuffer& grads, const TrainStepOptions& o,
                            CheckNormWorkspace& ws, const FusedOptimizerStep& optimizer, Schedule& schedule) {
  HALFWAY_EXPECT(!o.clip_before_unscale, "clipping after the unscale in the fused step",
                 "clip_before_unscale (the ablation runs on train_step)");
  StepReport r;
  r.lr = schedule.lr();
  StepRule rule;
  rule.clip = o.clip;
  rule.max_norm = o.clip_options.max_norm;
  rule.skip_on_inf = scaler.options().mode != amp::ScaleMode::off;
  rule.skip_nonfinite_norm = o.clip && o.clip_options.error_if_nonfinite;
  amp::ScalerWords* sw = scaler.words(grads.backend);
  StepWords* w = check_and_norm(grads, sw, rule, ws);
  optimizer(r.lr, GradFold{&sw->inv_scale, &w->clip_coef, &w->skip});
  scaler.update();
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

}  // namespace halfway::optim
