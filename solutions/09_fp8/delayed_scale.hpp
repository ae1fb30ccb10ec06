/// @file delayed_scale.hpp
/// @brief Chapter 09's exercise 09.2: the scale of delayed scaling, from an amax history.
///
/// fp8 holds a tensor only after it is multiplied by a scale that brings its largest
/// magnitude (amax) near the format's max: x_fp8 = fp8(x * scale), and the GEMM multiplies
/// its result by 1/scale. Transformer Engine's delayed scaling chooses the scale before
/// the tensor exists, from the amaxes of the last H steps (the history):
///
///     amax  = max over the history
///     scale = (fp8_max / amax) / 2^margin
///
/// computed in float (fp8_max / amax rounded once, then an exact division by 2^margin).
/// The margin (an integer >= 0) leaves headroom for a tensor that grows between steps.
///
/// When the history gives no usable amax the scale stays what it was (TE's rule):
/// - amax is 0 (a tensor of zeros, or a history not filled yet): every scale fits it;
/// - any amax in the history is inf or NaN (a step that overflowed): no scale fits it,
///   so the previous scale is kept until that step leaves the window, H steps later.
/// And when amax is so small that fp8_max / amax overflows float, the scale is the
/// largest finite float (as TE's current scaling does), never inf: 1/scale must stay > 0.
#pragma once

#include <cfloat>

#include "common/exercise.hpp"
#include "common/hd.hpp"
#include "kernels/fp8/format.hpp"

namespace halfway::fp8 {

/// The scale for the next step from the `length` amaxes of `history` (any order; every
/// entry >= 0 or NaN), or `previous_scale` when they give none (see above).
HALFWAY_HD inline float delayed_scale(const float* history, int length, float fp8_max, int margin,
                                      float previous_scale) {
  // BEGIN EXERCISE 09.2 (3 points): The scale of delayed scaling
  // HINT: one pass over the history: the max, and whether any entry is not finite
  // HINT: (x != x is NaN; x - x != 0 is NaN or inf). Then the three cases of the header:
  // HINT: keep previous_scale, or fp8_max / amax (clamped to FLT_MAX) / pow2f(margin).
  float amax = 0.0f;
  bool finite = true;
  for (int i = 0; i < length; ++i) {
    const float a = history[i];
    if (a - a != 0.0f) finite = false;  // inf - inf and NaN - NaN are NaN
    if (a > amax) amax = a;
  }
  if (!finite || amax == 0.0f) return previous_scale;
  float scale = fp8_max / amax;
  if (scale > FLT_MAX) scale = FLT_MAX;  // amax below fp8_max / FLT_MAX
  return scale / pow2f(margin);
  // END EXERCISE 09.2
}

}  // namespace halfway::fp8
