/// @file grad_fold.hpp
/// @brief What the fused training step folds into the optimizer's read of a gradient
/// (kernels/optim/train_step.hpp, fused_train_step).
///
/// The gradients stay as the backward pass left them, scaled by the loss scale and in
/// their storage type. The optimizer reads each one in fp32 registers and multiplies it
/// by 1/scale, then by the clip coefficient: two fp32 multiplies in PyTorch's order
/// (unscale_ -> clip_grad_norm_ -> step), the very products the in-place passes store in
/// fp32, so fp32 gradients give the same bits. 16-bit gradients keep every value the loss
/// scale saved: 2^-30, stored as 2^-14 at scale 2^16, reaches the update as 2^-30 instead
/// of flushing to 0 in fp16.
///
/// The factors and the skip flag are device words (written by the step's kernels), read
/// by the optimizer's kernel itself: the host never passes them. So may be the step's
/// constants (its rate and Adam's bias corrections) and the seed of stochastic rounding,
/// computed on the device from its count of steps taken (kernels/optim/step_log.hpp).
#pragma once

#include <cstdint>

#include "05_master_weights/adam_element.hpp"
#include "common/hd.hpp"

namespace halfway::optim {

/// Device words (null: not folded; the gradient is used as stored).
struct GradFold {
  const float* inv_scale = nullptr;  ///< 1/loss scale (kernels/amp/device_scaler.hpp)
  const float* clip_coef = nullptr;  ///< min(1, max_norm / (norm + 1e-6)), or 1
  const unsigned* skip = nullptr;    ///< nonzero: the step is skipped, nothing is written
  const AdamConstants* constants = nullptr;  ///< this step's constants (else the call's)
  const std::uint64_t* sr_seed = nullptr;    ///< this step's stochastic-rounding seed (else the call's)
};

/// The two factors of one step, as the optimizer's loop holds them in registers.
struct GradFactors {
  float inv_scale = 1.0f;
  float clip_coef = 1.0f;
};

/// Reads the words (on the device in a kernel, on the host for the cpu backend).
HALFWAY_HD_INLINE bool skipped(const GradFold& f) { return f.skip != nullptr && *f.skip != 0u; }
HALFWAY_HD_INLINE AdamConstants constants_of(const GradFold& f, const AdamConstants& given) {
  return f.constants ? *f.constants : given;
}
HALFWAY_HD_INLINE std::uint64_t sr_seed_of(const GradFold& f, std::uint64_t given) {
  return f.sr_seed ? *f.sr_seed : given;
}
HALFWAY_HD_INLINE GradFactors factors(const GradFold& f) {
  GradFactors x;
  if (f.inv_scale) x.inv_scale = *f.inv_scale;
  if (f.clip_coef) x.clip_coef = *f.clip_coef;
  return x;
}

}  // namespace halfway::optim
