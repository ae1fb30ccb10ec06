/// @file adam_element.hpp
/// @brief Chapter 05's exercise 05.1: Adam's update of one parameter, as PyTorch 1.13
/// computes it (torch/optim/adam.py and adamw.py, the single-tensor path).
///
/// One step t (counted from 1) of one element, with gradient g, moments m and v:
///
///     Adam  (L2 decay):      g <- g + wd * w
///     AdamW (decoupled):     w <- w * (1 - lr * wd)
///     m <- beta1 * m + (1 - beta1) * g
///     v <- beta2 * v + (1 - beta2) * g * g
///     denom = sqrt(v) / sqrt(1 - beta2^t) + eps          (eps after the bias correction)
///     w <- w + (-(lr / (1 - beta1^t)) * m) / denom      (addcdiv_'s order: scale m, then divide)
///
/// The host computes everything that does not depend on the element once per step, in
/// double like PyTorch's Python floats, and passes it rounded to float (AdamConstants):
/// step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t), decay = 1 - lr * wd.
/// The element's arithmetic is fp32.
#pragma once

#include <cmath>

#include "common/exercise.hpp"
#include "common/hd.hpp"

namespace halfway::optim {

/// One step's constants (AdamState::constants() computes them).
struct AdamConstants {
  float beta1, beta2;
  float one_minus_beta1, one_minus_beta2;  ///< 1 - beta, computed in double
  float eps;
  float weight_decay;
  bool decoupled;     ///< AdamW: decay the weight, not the gradient
  float decay;        ///< 1 - lr * weight_decay (AdamW)
  float step_size;    ///< lr / (1 - beta1^t)
  float bc2_sqrt;     ///< sqrt(1 - beta2^t)
};

/// Updates m and v in place and returns the new weight.
HALFWAY_HD_INLINE float adam_element(float w, float g, float& m, float& v, const AdamConstants& c) {
  // BEGIN EXERCISE 05.1 (3 points): Adam and AdamW, one element
  // HINT: sqrtf, not sqrt: the whole update is fp32.
  if (c.weight_decay != 0.0f) {
    if (c.decoupled) w = w * c.decay;
    else g = g + c.weight_decay * w;
  }
  m = m * c.beta1 + c.one_minus_beta1 * g;
  v = v * c.beta2 + c.one_minus_beta2 * g * g;
  const float denom = sqrtf(v) / c.bc2_sqrt + c.eps;
  return w + (-c.step_size * m) / denom;
  // END EXERCISE 05.1
}

}  // namespace halfway::optim
