/// @file check_norm.hpp
/// @brief The fused step's one read-only pass over the gradients: the overflow check and
/// the global norm of the UNSCALED gradients together, then the clip coefficient and the
/// skip decision, all left in device words (chapter 07's step; kernels/optim/train_step.hpp).
///
/// The in-place path makes three passes that write the gradients: unscale (g *= 1/scale,
/// found_inf), the norm, clip (g *= coef). This one reads each gradient once and writes
/// nothing back to it:
///
///     v = ld(g[i])                          the stored value, exactly, in fp32
///     found_inf |= v is inf or NaN          checked before the multiply, as unscale does
///     u = v * inv_scale                     fp32: the value the in-place unscale stores
///     sum += double(u)^2                    grad_norm.hpp's order and blocking exactly
///
/// so for fp32 gradients the norm has the very bits of unscale -> global_norm (and for
/// 16-bit ones it is the norm of what the optimizer really reads: u is not rounded back to
/// 16 bits). Then, in one thread (finish_step below, host and device):
///
///     norm = float(sqrt(sum))
///     clip_coef = min(1, max_norm / (norm + 1e-6))    clip.hpp's clip_coefficient, or 1
///     skip = found_inf (with a scaler) or a non-finite norm (when refused)
///
/// The mapping: launch 1 is grad_norm's first pass (norm_blocks(n) blocks x 256 threads,
/// grid-stride) with the flag reduced per block (block_max) and raised once per block
/// (atomicOr: an OR, any order gives the same word); launch 2 is one block that combines
/// the partials as grad_norm's second pass and writes the StepWords.
///
/// On the cpu the same order runs on the host (norm_order_host.hpp). The flag there costs
/// nothing in the common case: a finite sum proves every gradient finite (an inf or NaN
/// makes u, hence the sum, inf or NaN), so the gradients are read again for the flag only
/// when the sum is not finite.
#pragma once

#include <cstdint>

#include "common/device_memory.hpp"
#include "common/hd.hpp"
#include "kernels/amp/device_scaler.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/optim/clip.hpp"

namespace halfway::optim {

/// What the pass leaves for the optimizer (grad_fold.hpp) and the host's report.
struct StepWords {
  float grad_norm;     ///< ||u||_2, the norm of the unscaled gradients
  float clip_coef;     ///< what the optimizer multiplies by after 1/scale
  unsigned skip;       ///< nonzero: the optimizer does nothing this step
  unsigned found_inf;  ///< some stored gradient was inf or NaN
};

/// How the words follow from the sum and the flag.
struct StepRule {
  bool clip = true;               ///< else clip_coef is 1 (the norm is only measured)
  float max_norm = 1.0f;          ///< > 0 and finite
  bool skip_on_inf = true;        ///< a loss scaler skips the step on found_inf
  bool skip_nonfinite_norm = false;  ///< clip's error_if_nonfinite: no step on an inf/NaN norm
};

/// The finishing thread (host and device).
HALFWAY_HD_INLINE StepWords finish_step(double sum, unsigned found_inf, const StepRule& r) {
  StepWords w;
  w.grad_norm = float(sqrt(sum));  // sqrt and the rounding: both IEEE, the same everywhere
  w.found_inf = found_inf != 0u ? 1u : 0u;
  w.clip_coef = r.clip ? clip_coefficient(w.grad_norm, r.max_norm) : 1.0f;
  const bool bad_norm = (float_to_bits(w.grad_norm) & 0x7f800000u) == 0x7f800000u;
  w.skip = (r.skip_on_inf && w.found_inf) || (r.skip_nonfinite_norm && bad_norm) ? 1u : 0u;
  return w;
}

/// Device memory the pass needs, allocated on first use and reused.
struct CheckNormWorkspace {
  Buf<double> partials;
  Buf<StepWords> words;
};

/// The pass and the finish on the gradients' backend (launches on emu and cuda, host code
/// on the cpu), reading scaler->inv_scale and raising scaler->found_inf (it must be 0, as
/// DeviceScaler leaves it). Returns the StepWords in device memory; does not wait.
StepWords* check_and_norm(const GradBuffer& grads, amp::ScalerWords* scaler, const StepRule& rule,
                          CheckNormWorkspace& ws);

}  // namespace halfway::optim

/// The kernels behind it (check_norm.cu); each returns after its launch, without waiting.
HALFWAY_KERNEL_API(
  void check_norm_partials(const float* g, std::int64_t n, const float* inv_scale, unsigned* found_inf, double* partials);
  void check_norm_partials(const ::halfway::half* g, std::int64_t n, const float* inv_scale, unsigned* found_inf,
                           double* partials);
  void check_norm_partials(const ::halfway::bfloat16* g, std::int64_t n, const float* inv_scale, unsigned* found_inf,
                           double* partials);
  void check_norm_finish(const double* partials, int count, const unsigned* found_inf, ::halfway::optim::StepRule rule,
                         ::halfway::optim::StepWords* words);
)
