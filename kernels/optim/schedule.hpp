/// @file schedule.hpp
/// @brief Learning-rate schedules (chapter 06): a small value type that knows how many
/// optimizer steps it has seen and gives the rate of the next one.
///
/// Steps count from 1: the k-th optimizer step uses lr(k). With w = warmup, T = total
/// steps, peak = the base rate:
///
///   constant         lr(k) = peak
///   noam             lr(k) = factor * d_model^-0.5 * min(k^-0.5, k * w^-1.5)      (exercise 06.2)
///                    (peak factor * (d_model * w)^-0.5 at k = w; `peak` unused)
///   warmup_cosine    lr(k) = peak * k / w                               for k <= w,
///                    floor + (peak - floor) * (1 + cos(pi * p)) / 2,     p = min(1, (k - w) / (T - w))
///   warmup_inv_sqrt  lr(k) = peak * k / w for k <= w, peak * sqrt(w / k) after
///
/// The rate is computed in double and returned as double; an optimizer takes it as float.
/// Bad options and bad steps are one clear Error each: warmup < 1 (the schedules with a
/// warmup), T <= w (cosine), floor outside [0, peak], peak or factor not positive and
/// finite, d_model < 1, a step < 1 or a negative saved step count.
///
/// Skipped steps: the course's schedule counts optimizer steps taken, so a step the loss
/// scaler skipped does not advance it (train_step.hpp); PyTorch's LambdaLR counts calls and
/// advances anyway (chapter 06's lesson says why we differ).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "06_clipping_warmup/noam.hpp"
#include "common/hd.hpp"

namespace halfway::optim {

enum class ScheduleKind { constant, noam, warmup_cosine, warmup_inv_sqrt };
/// "constant", "noam", "cosine", "inv_sqrt".
std::string to_string(ScheduleKind k);
/// Parses the names above; a UsageError otherwise.
ScheduleKind parse_schedule_kind(const std::string& s);

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  double peak = 1e-3;          ///< the base rate: constant's rate, the warmups' peak
  std::int64_t warmup = 4000;  ///< steps of warmup (noam, cosine, inv_sqrt); >= 1
  std::int64_t total = 0;      ///< the run's length (cosine: decays to `floor` at this step)
  double floor = 0.0;          ///< cosine's final rate, in [0, peak]
  double factor = 1.0;         ///< noam's factor
  std::int64_t d_model = 512;  ///< noam's model width
};

/// What a checkpoint saves: the optimizer steps the schedule has seen.
struct ScheduleState {
  std::int64_t step = 0;
};

/// lr(k) of the schedule `o`, k >= 1 (the options are checked too).
double lr_at(const ScheduleOptions& o, std::int64_t k);

/// lr(k) without the checks (host and device: the trainer's step computes it on the device
/// from its counter of steps taken, kernels/optim/step_log.hpp). The same double
/// arithmetic as lr_at; on a GPU cos and sqrt are CUDA's (the cosine schedule may then
/// differ from the host's in the last bit).
HALFWAY_HD_INLINE double schedule_lr(const ScheduleOptions& o, std::int64_t k) {
  const double warming = o.peak * double(k) / double(o.warmup);
  switch (o.kind) {
    case ScheduleKind::constant: return o.peak;
    case ScheduleKind::noam: return noam_lr(o.factor, o.d_model, o.warmup, k);
    case ScheduleKind::warmup_cosine: {
      if (k <= o.warmup) return warming;
      const double p = std::min(1.0, double(k - o.warmup) / double(o.total - o.warmup));
      return o.floor + (o.peak - o.floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
    }
    case ScheduleKind::warmup_inv_sqrt:
      if (k <= o.warmup) return warming;
      return o.peak * std::sqrt(double(o.warmup) / double(k));
  }
  return NAN;
}
/// Checks the options (the Error names the first bad one).
void check(const ScheduleOptions& o);

class Schedule {
 public:
  explicit Schedule(const ScheduleOptions& o);
  /// The rate of the next optimizer step, lr(steps() + 1).
  double lr() const { return lr_at(options_, state_.step + 1); }
  /// One optimizer step was taken.
  void step() { ++state_.step; }
  /// Optimizer steps seen.
  std::int64_t steps() const { return state_.step; }
  const ScheduleOptions& options() const { return options_; }
  const ScheduleState& state() const { return state_; }
  /// Restores a saved state (a negative step is an Error).
  void load(const ScheduleState& s);

 private:
  ScheduleOptions options_;
  ScheduleState state_;
};

}  // namespace halfway::optim
