/// @file scale_update.hpp
/// @brief Chapter 04's exercise 04.1: the dynamic loss scale's update rule.
///
/// After every step the scaler looks at one bit, found_inf (did any gradient overflow?),
/// and moves the scale:
///
///     found_inf:  the step was skipped; back the scale off (scale *= backoff_factor),
///                 restart the count of clean steps (growth_tracker = 0);
///     clean:      count it; after growth_interval clean steps in a row, try to grow the
///                 scale (scale *= growth_factor, kept only if the result is finite) and
///                 restart the count.
///
/// This is PyTorch's GradScaler (torch._amp_update_scale_). Two additions, both off by
/// default so the rule is exactly PyTorch's:
/// - hysteresis (Megatron-LM): an overflow only backs off once `hysteresis` overflows have
///   used up the allowance; the allowance refills when the scale grows. hysteresis = 1
///   backs off on every overflow, as PyTorch.
/// - bounds: the scale never goes below min_scale (0: no bound, as PyTorch) nor above
///   max_scale (infinity: no bound, as PyTorch; Apex caps at 2^24).
///
/// The scale is a float, as PyTorch's scale tensor: a product is computed in double and
/// rounded to float (exact for the power-of-two factors everyone uses).
#pragma once

#include <algorithm>
#include <cmath>

#include "common/exercise.hpp"
#include "common/hd.hpp"

namespace halfway::amp {

/// The constants of the rule.
struct ScaleRule {
  double growth_factor = 2.0;   ///< > 1
  double backoff_factor = 0.5;  ///< in (0, 1)
  int growth_interval = 2000;   ///< clean steps in a row before the scale grows
  int hysteresis = 1;           ///< overflows allowed before a backoff (1: PyTorch)
  float min_scale = 0.0f;       ///< lower bound after a backoff (0: none)
  float max_scale = INFINITY;   ///< upper bound after a growth (inf: none)
};

/// What the rule changes from step to step (saved with a checkpoint).
struct ScaleState {
  float scale = 65536.0f;     ///< the loss is multiplied by this
  int growth_tracker = 0;     ///< clean steps since the last overflow or growth
  int hysteresis_left = 1;    ///< overflows still allowed before the next backoff
};

/// One step of the rule: `s` after a step whose gradients were (found_inf) or were not
/// all finite. Host and device code: the trainer's scaler runs it in a one-thread kernel
/// (kernels/amp/device_scaler.cu), so the scale never has to visit the host.
HALFWAY_HD_INLINE void update_scale(ScaleState& s, bool found_inf, const ScaleRule& r) {
  // BEGIN EXERCISE 04.1 (3 points): The loss scale's update rule
  // HINT: products in double, rounded to float: float(double(s.scale) * r.growth_factor).
  // HINT: a growth is kept only when the grown scale is finite; the tracker restarts anyway.
  // HINT: hysteresis: an overflow takes one from s.hysteresis_left and backs off only when
  // HINT: that reaches 0 or less (a backoff does not refill it: the next overflow backs off
  // HINT: too). Every growth attempt refills it to r.hysteresis, also one refused as not
  // HINT: finite (the scale stays) or capped at max_scale.
  if (found_inf) {
    s.growth_tracker = 0;
    s.hysteresis_left -= 1;
    if (s.hysteresis_left <= 0)
      s.scale = std::max(static_cast<float>(double(s.scale) * r.backoff_factor), r.min_scale);
    return;
  }
  s.growth_tracker += 1;
  if (s.growth_tracker == r.growth_interval) {
    const float grown = static_cast<float>(double(s.scale) * r.growth_factor);
    if (std::isfinite(grown)) s.scale = std::min(grown, r.max_scale);
    s.growth_tracker = 0;
    s.hysteresis_left = r.hysteresis;
  }
  // END EXERCISE 04.1
}

}  // namespace halfway::amp
