/// @file scaling.hpp
/// @brief Per-tensor (and per-block) scaling recipes for fp8, with their telemetry.
///
/// A tensor x goes into fp8 as q = fp8(x * scale) and comes back as q * inv_scale,
/// inv_scale = 1 / scale. The recipes differ in where the scale comes from:
/// - current scaling (TE's Float8CurrentScaling): from this very tensor's amax, which
///   costs a pass over the tensor before the cast;
/// - delayed scaling (TE's DelayedScaling): from the amaxes of the last H steps
///   (chapter 09's exercise 09.2), known before the tensor exists: the cast and the amax
///   of this step are one pass, and this step's amax only enters the next steps' scales;
/// - per-block scaling (DeepSeek-V3): current scaling for each block of 1 x 128 values
///   (activations) or 128 x 128 (weights), one inv_scale per block.
///
/// The multiply x * scale rounds to float before the conversion rounds to fp8, as
/// Transformer Engine's cast kernels do; a power-of-two scale makes the multiply exact.
/// Casts saturate (Saturation::finite): a value beyond the format becomes +-max.
#pragma once

#include <cstdint>
#include <vector>

#include "09_fp8/delayed_scale.hpp"
#include "kernels/fp8/fp8.hpp"

namespace halfway::fp8 {

/// What one cast did to a tensor: the telemetry of chapter 09.
struct QuantStats {
  float amax = 0.0f;            ///< max |x| of the finite values, before scaling
  std::int64_t count = 0;       ///< values cast
  std::int64_t saturated = 0;   ///< |x * scale| > fp8_max: clamped to +-max (lost range)
  std::int64_t underflowed = 0; ///< x != 0 whose fp8 is +-0 (lost to underflow)
  std::int64_t nonfinite = 0;   ///< x inf or NaN (the cast gives +-max or NaN)

  /// The amax a delayed-scaling history records: NaN when the tensor had inf or NaN.
  float history_amax() const;
  /// Adds another cast's counts (a tensor cast in blocks).
  void merge(const QuantStats& other);
};

/// max |x| over x[0, n): NaN when any x is inf or NaN (what a scale must not follow).
float amax(const float* x, std::int64_t n);

/// out[i] = fp8(x[i] * scale), saturating; returns what the cast did.
QuantStats quantize(const float* x, std::int64_t n, float scale, Fp8Format format, std::uint8_t* out);

/// out[i] = float(q[i]) * inv_scale.
void dequantize(const std::uint8_t* q, std::int64_t n, float inv_scale, Fp8Format format, float* out);

/// Current scaling: the scale for a tensor whose amax is `amax` (1 when amax is 0, inf or
/// NaN: TE's Float8CurrentScaling keeps such a tensor unscaled).
inline float current_scale(float amax, Fp8Format format, int margin = 0) {
  return delayed_scale(&amax, 1, fp8_max(format), margin, 1.0f);
}

/// The settings of delayed scaling.
struct DelayedRecipe {
  int history_length = 16;  ///< H: amaxes kept (TE's default is 1024; 1 uses only the last step)
  int margin = 0;           ///< the scale leaves 2^margin of headroom
};

/// Delayed scaling for one tensor: the scale of this step, and its update after the step.
class DelayedScaler {
 public:
  DelayedScaler(Fp8Format format, DelayedRecipe recipe);

  float scale() const { return scale_; }           ///< for this step's cast
  float inv_scale() const { return 1.0f / scale_; }  ///< for this step's GEMM output
  Fp8Format format() const { return format_; }
  /// The amaxes kept, oldest first (zeros before H steps have run).
  std::vector<float> history() const;

  /// After a step: records the step's amax (QuantStats::history_amax) in the history,
  /// dropping the oldest, and computes the next step's scale from it (exercise 09.2).
  void update(float step_amax);

 private:
  Fp8Format format_;
  DelayedRecipe recipe_;
  std::vector<float> ring_;  // the last H amaxes; next_ is the oldest
  int next_ = 0;
  float scale_ = 1.0f;       // TE starts every scale at 1
};

/// Per-block scaling of a row-major rows x cols tensor: current scaling for each block of
/// block_rows x block_cols values (edge blocks are smaller). Writes the codes to `out`
/// (rows x cols) and each block's inv_scale to `inv_scales` (row-major over the
/// ceil(rows / block_rows) x ceil(cols / block_cols) blocks); returns the whole
/// tensor's telemetry.
QuantStats quantize_blocks(const float* x, std::int64_t rows, std::int64_t cols, int block_rows, int block_cols,
                           Fp8Format format, std::uint8_t* out, float* inv_scales);

}  // namespace halfway::fp8
