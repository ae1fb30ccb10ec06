/// @file noam.hpp
/// @brief Chapter 06's exercise 06.2: the Noam learning rate (Vaswani et al. 2017, 5.3).
///
///   lr(step) = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5),  step = 1, 2, ...
///
/// The two terms meet at step = warmup: before it the rate grows linearly (step *
/// warmup^-1.5), after it it decays as step^-0.5; the peak is factor * (d_model *
/// warmup)^-0.5. Steps count from 1 (the first optimizer step is step 1): at step 0 the
/// first term would be infinite. The caller (kernels/optim/schedule.cpp) has checked
/// step >= 1, warmup >= 1, d_model >= 1 and factor > 0.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/exercise.hpp"
#include "common/hd.hpp"

namespace halfway::optim {

/// The Noam rate at `step` (>= 1), in double (host and device: the trainer computes it on the
/// device, kernels/optim/step_log.hpp).
HALFWAY_HD_INLINE double noam_lr(double factor, std::int64_t d_model, std::int64_t warmup, std::int64_t step) {
  // BEGIN EXERCISE 06.2 (2 points): The Noam schedule
  // HINT: std::pow(x, -1.5) or x * std::sqrt(x); compute in double.
  const double s = double(step), w = double(warmup);
  return factor / std::sqrt(double(d_model)) * std::min(1.0 / std::sqrt(s), s / (w * std::sqrt(w)));
  // END EXERCISE 06.2
}

}  // namespace halfway::optim
