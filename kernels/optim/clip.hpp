/// @file clip.hpp
/// @brief Gradient clipping with torch.nn.utils.clip_grad_norm_'s and clip_grad_value_'s
/// semantics (PyTorch 1.13), in place on a flat gradient buffer (chapter 06).
///
/// clip_grad_norm: total = ||g||_2 over the whole buffer (grad_norm.hpp; PyTorch takes the
/// L2 norm of the per-tensor norms, the same number up to rounding), then
///
///   coef = min(1, max_norm / (total + 1e-6)),   g_i <- g_i * coef   (every i, also when coef is 1)
///
/// and the norm before clipping is returned. The coefficient is computed as PyTorch does,
/// in fp32 and in its order: `max_norm / t` on a tensor t is `t.reciprocal() * max_norm`,
/// so coef = fl(fl(1 / fl(total + 1e-6)) * max_norm), clamped to 1 with NaN kept (a NaN
/// total makes every gradient NaN; an infinite one makes them 0, or NaN where they were
/// inf). The multiply is fp32, rounded back once for 16-bit gradients.
///
/// On emu and cuda: the norm's two launches, one launch that reads the norm from device
/// memory and scales, and one float to the host. With error_if_nonfinite the host reads
/// the norm before the scaling launch and throws an Error on inf/NaN, gradients untouched
/// (PyTorch raises before it multiplies). On the cpu: the same math in host loops.
///
/// clip_grad_value: g_i <- clamp(g_i, -v, v) (NaN stays NaN; for 16-bit gradients the
/// bound is v rounded to their type), one launch.
///
/// Bad input is one clear Error: max_norm or clip_value not a positive finite number.
#pragma once

#include "common/hd.hpp"
#include "kernels/optim/grad_norm.hpp"

namespace halfway::optim {

struct ClipOptions {
  float max_norm = 1.0f;            ///< > 0 and finite
  bool error_if_nonfinite = false;  ///< PyTorch's option: an Error on an inf/NaN total norm
};

/// Clips the gradients to global norm max_norm, in place; returns the norm before clipping.
float clip_grad_norm(const GradBuffer& grads, const ClipOptions& options, NormWorkspace& ws);

/// Clamps every gradient to [-clip_value, clip_value], in place.
void clip_grad_value(const GradBuffer& grads, float clip_value);

/// PyTorch's clip coefficient (host and device): fl(fl(1 / fl(total + 1e-6)) * max_norm)
/// clamped to 1; NaN stays NaN (torch.clamp keeps it).
HALFWAY_HD_INLINE float clip_coefficient(float total, float max_norm) {
  const float c = (1.0f / (total + 1e-6f)) * max_norm;
  return c > 1.0f ? 1.0f : c;
}

}  // namespace halfway::optim

/// The kernels behind it (clip.cu); each returns after its launch, without waiting.
/// `norm` is the device float the norm's second pass wrote.
HALFWAY_KERNEL_API(
  void clip_scale(float* g, std::int64_t n, const float* norm, float max_norm);
  void clip_scale(::halfway::half* g, std::int64_t n, const float* norm, float max_norm);
  void clip_scale(::halfway::bfloat16* g, std::int64_t n, const float* norm, float max_norm);
  void clip_clamp(float* g, std::int64_t n, float clip_value);
  void clip_clamp(::halfway::half* g, std::int64_t n, float clip_value);
  void clip_clamp(::halfway::bfloat16* g, std::int64_t n, float clip_value);
)
