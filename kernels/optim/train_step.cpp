#include "kernels/optim/train_step.hpp"

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

}  // namespace halfway::optim
