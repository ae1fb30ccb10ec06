/// @file device_scaler.hpp
/// @brief The trainer's loss scaler, with its state in device memory (chapter 07's fused
/// step; chapter 04's GradScaler is the same rule driven from the host).
///
/// PyTorch keeps the GradScaler's scale and growth tracker as GPU tensors and updates them
/// with a kernel (`torch._amp_update_scale_`): the scale never visits the host inside a
/// step. So does this scaler. Its words (ScalerWords) live in the backend's memory:
///
///     state      scale, growth tracker, hysteresis allowance (exercise 04.1's ScaleState)
///     inv_scale  1/scale, as GradScaler::inv_scale() computes it (in double, rounded to
///                float; 1 when scaling is off): what the fused step multiplies by
///     found_inf  raised by the gradient check (kernels/optim/check_norm.hpp)
///
/// update() runs the end of a step on the device, as one thread of one block: exercise
/// 04.1's update_scale (dynamic mode), the new inv_scale, and found_inf reset to 0 for the
/// next step. The same function runs as host code on the cpu backend, over the same struct.
///
/// The host keeps a copy of the state and refreshes it only when asked: scale() and
/// state() (a log line, the next loss, a checkpoint) read the words back once after each
/// update(); nothing else crosses.
#pragma once

#include "common/backend.hpp"
#include "common/device_memory.hpp"
#include "common/hd.hpp"
#include "kernels/amp/grad_scaler.hpp"

namespace halfway::amp {

/// The scaler's words in device memory.
struct ScalerWords {
  ScaleState state;
  float inv_scale;     ///< 1/scale for this step's gradients (1 when off)
  unsigned found_inf;  ///< raised by the gradient check, reset by the end of the step
};

/// 1/scale as GradScaler::inv_scale() computes it: in double, rounded to float.
HALFWAY_HD_INLINE float inverse_scale(float scale, ScaleMode mode) {
  return mode == ScaleMode::off ? 1.0f : static_cast<float>(1.0 / double(scale));
}

/// The end of a step (host and device): the rule moves the scale (dynamic mode only),
/// inv_scale follows it, found_inf is cleared for the next step's check.
HALFWAY_HD_INLINE void end_of_step(ScalerWords& w, ScaleMode mode, const ScaleRule& rule) {
  if (mode == ScaleMode::dynamic) update_scale(w.state, w.found_inf != 0, rule);
  w.inv_scale = inverse_scale(w.state.scale, mode);
  w.found_inf = 0;
}

class DeviceScaler {
 public:
  /// Checked as GradScaler's options are.
  explicit DeviceScaler(const ScalerOptions& options = {});

  /// The factor the loss is multiplied by (1 when off); reads the words back once after
  /// an update().
  float scale();
  /// Saved with a checkpoint; reads the words back once after an update().
  const ScaleState& state();
  /// Restores a saved state (checked as GradScaler::load checks it).
  void load(const ScaleState& s);
  const ScalerOptions& options() const { return options_; }

  /// The words in `backend`'s memory: allocated and filled from the host's state on first
  /// use (or after load()). One backend per scaler.
  ScalerWords* words(Backend backend);
  /// The end of the step (end_of_step above): one launch on emu and cuda, host code on
  /// the cpu. Does not wait.
  void update();

 private:
  void refresh();
  ScalerOptions options_;
  ScaleState host_;            ///< the host's copy (valid unless stale_)
  Backend backend_ = Backend::cpu;
  Buf<ScalerWords> words_;
  bool uploaded_ = false;      ///< words_ holds host_ (or newer)
  bool stale_ = false;         ///< an update() ran since the last read-back
};

}  // namespace halfway::amp

/// The kernel behind update(): one thread; returns after the launch, without waiting.
HALFWAY_KERNEL_API(
  void scaler_end_of_step(::halfway::amp::ScalerWords* w, ::halfway::amp::ScaleMode mode, ::halfway::amp::ScaleRule rule);
)
