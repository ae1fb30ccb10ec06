/// @file step_log.hpp
/// @brief The trainer's step control on the device (chapter 07): the step's rate and Adam's
/// constants come from a device counter of the steps taken, and the step's outcome
/// accumulates into a log record the host reads on logging steps only.
///
/// Per step, on the step's stream, around the fused step (train_step.hpp):
///
/// @code
///   begin_step   one thread: k = taken + 1; lr = schedule_lr(k); Adam's constants of
///                step k from lr (both in double, rounded to float as adam_constants does);
///                the seed of stochastic rounding for step k; the scale in use
///   check_and_norm, optimizer (reads the constants from StepControl), scaler update
///   end_step     one thread: the record takes the step's loss, norm and skip;
///                taken += 1 unless skipped; the first collapse and divergence
/// @endcode
///
/// Nothing in between goes to the host, so a captured step replays with each step's own
/// rate. The host copies the record out when it logs (StepLogReader below: an async copy
/// into pinned memory and an event), and only then checks for a collapse or a divergence:
/// the error names the step where it happened, which may be a few steps before the read.
///
/// The same functions run as host code on the cpu backend, over the same structs.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/backend.hpp"
#include "common/device_event.hpp"
#include "common/device_memory.hpp"
#include "common/hd.hpp"
#include "common/pinned.hpp"
#include "common/rng.hpp"
#include "kernels/amp/device_scaler.hpp"
#include "kernels/optim/check_norm.hpp"
#include "kernels/optim/optimizer.hpp"
#include "kernels/optim/schedule.hpp"

namespace halfway::optim {

/// The log record (device words). "Since the last read": reset by StepLogReader::read().
struct StepLog {
  float loss_sum;            ///< the running step's loss: the loss adds (mean token loss / accumulate)
                             ///< into it per micro-batch; end_step moves it to `loss` and clears it
  float loss;                ///< the last step's loss
  float grad_norm;           ///< the last step's norm (before clipping)
  float max_grad_norm;       ///< the largest norm since the last read (NaN wins)
  float scale;               ///< the loss scale the last step used (1 when off)
  int skipped_in_row;        ///< skipped steps in a row, up to the last step
  int max_skipped_in_row;    ///< its maximum since the last read
  unsigned last_skipped;     ///< the last step was skipped
  double lr;                 ///< the rate of the last step (that it would have had, if skipped)
  std::int64_t steps;        ///< steps run
  std::int64_t taken;        ///< optimizer steps taken: the schedule's and Adam's step count
  std::int64_t skipped;      ///< steps skipped (by the scaler)
  std::int64_t collapse_step;  ///< the first step where skipped_in_row reached the limit (0: none)
  float collapse_scale, collapse_loss;  ///< the scale after its update, its loss
  std::int64_t diverge_step;   ///< the first step taken with a non-finite loss or norm (0: none)
  float diverge_loss, diverge_norm;
};

/// What begin_step leaves for the optimizer (GradFold::constants, GradFold::sr_seed).
struct StepControl {
  AdamConstants constants;  ///< Adam's (or SGD's: step_size = lr) constants of this step
  std::uint64_t sr_seed;    ///< stochastic rounding's seed of this step (Adam: by the step taken)
};

/// What the step is made of (fixed for a run).
struct StepPlan {
  ScheduleOptions schedule;
  bool adam = true;              ///< else SGD (its rate only)
  AdamOptions adam_options{};    ///< lr unused: the schedule gives it
  std::uint64_t sr_seed = 0;     ///< the run's stochastic-rounding seed (Adam: derived per step here)
  int collapse_after = 20;       ///< skipped steps in a row that make a collapse
  bool scaling = false;          ///< a loss scaler runs (else the scale is 1)
};

/// The start of a step (host and device): the rate and the constants of step taken + 1.
HALFWAY_HD_INLINE void begin_step(StepLog& log, StepControl& ctl, const amp::ScalerWords& sw, const StepPlan& p) {
  const std::int64_t k = log.taken + 1;
  const double lr = schedule_lr(p.schedule, k);
  log.lr = lr;
  log.scale = p.scaling ? sw.state.scale : 1.0f;
  if (p.adam) {
    ctl.constants = adam_constants_unchecked(p.adam_options, lr, k);
    ctl.sr_seed = rng::derive_seed(p.sr_seed, std::uint64_t(k));
  } else {
    ctl.constants = AdamConstants{};
    ctl.constants.step_size = float(lr);
    ctl.sr_seed = 0;  // unused: SGD's seed is the host's (by steps run)
  }
}

HALFWAY_HD_INLINE bool nonfinite_float(float v) { return !(v - v == 0.0f); }

/// The end of a step (host and device), after the scaler's update: the record takes the
/// step's outcome. A step skipped by the scaler counts as skipped; one the clip refused
/// (a non-finite norm, no scaler) is a divergence, as the host's check made it before.
HALFWAY_HD_INLINE void end_step(StepLog& log, const StepWords& w, const amp::ScalerWords& sw, const StepRule& rule,
                                int collapse_after) {
  const std::int64_t step = ++log.steps;
  const bool by_scaler = rule.skip_on_inf && w.found_inf != 0u;
  const bool refused = w.skip != 0u && !by_scaler;
  const float loss = log.loss_sum;
  log.loss_sum = 0.0f;
  log.loss = loss;
  log.grad_norm = refused ? NAN : w.grad_norm;
  if (log.max_grad_norm == log.max_grad_norm && !(log.max_grad_norm >= w.grad_norm))
    log.max_grad_norm = w.grad_norm;  // a NaN norm wins and stays until the read
  log.last_skipped = by_scaler ? 1u : 0u;
  if (by_scaler) {
    ++log.skipped;
    if (++log.skipped_in_row > log.max_skipped_in_row) log.max_skipped_in_row = log.skipped_in_row;
    if (log.skipped_in_row >= collapse_after && log.collapse_step == 0)
      log.collapse_step = step, log.collapse_scale = sw.state.scale, log.collapse_loss = loss;
    return;
  }
  log.skipped_in_row = 0;
  if (!refused) ++log.taken;
  if ((refused || nonfinite_float(loss) || nonfinite_float(w.grad_norm)) && log.diverge_step == 0)
    log.diverge_step = step, log.diverge_loss = loss, log.diverge_norm = log.grad_norm;
}

/// The periodic part of the record cleared after a read (host and device).
HALFWAY_HD_INLINE void clear_period(StepLog& log) {
  log.max_grad_norm = 0.0f;
  log.max_skipped_in_row = log.skipped_in_row;
}

/// The record and the control words in one backend's memory, and their host side: the
/// launches of begin/end, and the read on logging steps (an async copy into pinned host
/// memory, waited for at an event, then the period cleared by one more launch).
class StepLogDevice {
 public:
  StepLogDevice() = default;
  StepLogDevice(const StepLogDevice&) = delete;
  StepLogDevice& operator=(const StepLogDevice&) = delete;

  /// Allocates on `b` (once) and fills the record: `taken` optimizer steps, `skipped_in_row`
  /// (a checkpoint's), everything else zero. Queued on the current stream.
  void reset(Backend b, std::int64_t taken, int skipped_in_row);
  StepLog* log() { return log_.data(); }
  StepControl* control() { return ctl_.data(); }
  /// The device word the loss adds into (StepLog::loss_sum).
  float* loss_sum() { return &log_.data()->loss_sum; }
  Backend backend() const { return backend_; }

  void begin(const amp::ScalerWords* sw, const StepPlan& p);
  void end(const StepWords* w, const amp::ScalerWords* sw, const StepRule& rule, int collapse_after);
  /// Waits for the steps queued so far and returns the record as the last of them left it;
  /// clears the period ("since the last read") after the copy.
  const StepLog& read();

 private:
  Backend backend_ = Backend::cpu;
  Buf<StepLog> log_;
  Buf<StepControl> ctl_;
  PinnedBytes pinned_;  ///< the read's destination (pinned host memory on emu and cuda)
  DeviceEvent copied_;  ///< recorded after the read's copy; read() waits for it
  StepLog seen_{};
};

}  // namespace halfway::optim

/// The kernels (one thread each, step_log.cu). None waits.
HALFWAY_KERNEL_API(
  void step_log_begin(::halfway::optim::StepLog* log, ::halfway::optim::StepControl* ctl,
                      const ::halfway::amp::ScalerWords* sw, ::halfway::optim::StepPlan plan);
  void step_log_end(::halfway::optim::StepLog* log, const ::halfway::optim::StepWords* w,
                    const ::halfway::amp::ScalerWords* sw, ::halfway::optim::StepRule rule, int collapse_after);
  void step_log_clear_period(::halfway::optim::StepLog* log);
)
