/// @file train_step.hpp
/// @brief The order of one mixed-precision training step after the backward pass, in one
/// function (chapter 06; chapter 07's trainer calls it).
///
/// @code
///   backward(loss * scale)                 (the caller, before train_step)
///   found_inf = scaler.unscale(grads)      g /= scale, one launch, one flag read
///   norm = clip_grad_norm(grads)           on the UNSCALED gradients (skipped on found_inf)
///   if (scaler.step()) optimizer(lr)       skipped on found_inf
///   scaler.update()                        the scale moves (chapter 04's rule)
///   if (stepped) schedule.step()           the schedule counts steps taken
/// @endcode
///
/// Why this order: clipping compares the gradients' norm with max_norm, a number in the
/// units of the true gradients. Before unscaling, the norm is scale times too large
/// (2^16 by default): clipping then scales the gradients by max_norm / (scale * norm) and
/// the unscale divides by the scale again, so the update is scale times too small
/// whenever the true norm exceeds max_norm / scale. `clip_before_unscale` does exactly
/// that (the ablation of the lesson, never for training).
///
/// On found_inf the gradients are discarded: no clipping (its error_if_nonfinite would
/// only repeat what the scaler found), the norm is still measured (inf or NaN) for the log.
/// The schedule does not advance on a skipped step unless `schedule_on_skipped` (PyTorch's
/// LambdaLR does: it counts calls, not updates).
///
/// fused_train_step is the same step as chapter 07's trainer runs it, with the control on
/// the device and the gradients never rewritten (PyTorch's fused Adam with a GradScaler,
/// Apex O2's fp32 unscale):
///
/// @code
///   check_and_norm(grads)                  one read-only pass: found_inf, the norm of the
///                                          unscaled gradients, clip_coef, skip (device words)
///   optimizer(lr, fold)                    reads g * inv_scale * clip_coef in fp32 registers,
///                                          does nothing when the skip word is set
///   scaler.update()                        exercise 04.1's rule in a one-thread kernel
///   one read-back of the step's words      the report; the schedule counts a taken step
/// @endcode
///
/// The optimizer is called on every step: the host does not know yet whether the step is
/// skipped (the kernel does). A caller that counts optimizer steps (Adam's bias correction)
/// gives it the constants of step t + 1 and counts the step once the report says it was
/// taken. For fp32 gradients every product is the in-place path's, so the bits are the
/// same; 16-bit gradients no longer lose what the unscale would flush (grad_fold.hpp).
#pragma once

#include <functional>

#include "kernels/amp/device_scaler.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/optim/check_norm.hpp"
#include "kernels/optim/clip.hpp"
#include "kernels/optim/grad_fold.hpp"
#include "kernels/optim/schedule.hpp"
#include "kernels/optim/step_log.hpp"

namespace halfway::optim {

struct TrainStepOptions {
  bool clip = true;                  ///< clip by global norm (else the norm is only measured)
  ClipOptions clip_options{};        ///< max_norm, error_if_nonfinite
  bool clip_before_unscale = false;  ///< the ablation: clip the scaled gradients (the bug)
  bool schedule_on_skipped = false;  ///< advance the schedule on skipped steps (PyTorch's way)
};

/// What one step did.
struct StepReport {
  bool found_inf = false;  ///< the unscale found an inf or NaN
  float grad_norm = 0.0f;  ///< the norm before clipping (of the scaled gradients in the ablation)
  double lr = 0.0;         ///< the rate given to the optimizer (or that it would have had)
  bool skipped = false;    ///< the optimizer did not step
};

/// The optimizer's step at rate lr (e.g. chapter 05's Adam over the store).
using OptimizerStep = std::function<void(double lr)>;

/// One step in the order above, on gradients the caller's backward pass left scaled by
/// scaler.scale().
StepReport train_step(amp::GradScaler& scaler, const GradBuffer& grads, const TrainStepOptions& options,
                      NormWorkspace& ws, const OptimizerStep& optimizer, Schedule& schedule);

/// The fused step's optimizer: rate lr, and the device words it folds into its read of
/// the gradients (ParamBuffers::fold).
using FusedOptimizerStep = std::function<void(double lr, const GradFold& fold)>;

/// The same step, fused (above). With error_if_nonfinite an inf/NaN norm (no inf found
/// by the scaler) skips the step on the device and is then an Error, the gradients and
/// weights as they were. clip_before_unscale is the in-place path's ablation only.
StepReport fused_train_step(amp::DeviceScaler& scaler, const GradBuffer& grads, const TrainStepOptions& options,
                            CheckNormWorkspace& ws, const FusedOptimizerStep& optimizer, Schedule& schedule);

/// The rule of the fused step's words (check_norm.hpp) for these options and this scaler
/// (ZeRO-1's consensus, kernels/dist/sharded_optimizer.hpp, finishes the words with it).
StepRule fused_rule(const amp::DeviceScaler& scaler, const TrainStepOptions& o);

/// The device step's optimizer: every word it needs, the rate and Adam's constants included,
/// is in the fold (GradFold::constants, GradFold::sr_seed).
using DeviceOptimizerStep = std::function<void(const GradFold& fold)>;

/// The fused step as chapter 07's trainer runs it: nothing read back (step_log.hpp).
/// begin_step (the rate and Adam's constants from the device's count of steps taken),
/// check_and_norm, the optimizer, the scaler's update, end_step (the record). The schedule
/// counts the steps taken (schedule_on_skipped is an Error); a non-finite norm the clip
/// refuses skips the step and is a divergence in the record, reported by the reader.
void device_train_step(amp::DeviceScaler& scaler, const GradBuffer& grads, const TrainStepOptions& options,
                       CheckNormWorkspace& ws, StepLogDevice& log, const StepPlan& plan,
                       const DeviceOptimizerStep& optimizer);

}  // namespace halfway::optim
