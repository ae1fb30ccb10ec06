/// @file grad_scaler.hpp
/// @brief Dynamic loss scaling with PyTorch's GradScaler semantics (chapter 04).
///
/// A training step with a scaler, in the order PyTorch documents:
///
/// @code
///   loss = model.loss(..., scaler.scale());   // backward of loss * scale
///   model.backward();
///   scaler.unscale(grads);                    // grads *= 1/scale, found_inf recorded
///   clip(grads);                              // (chapter 06) on unscaled gradients
///   if (scaler.step()) optimizer.step();      // skipped when found_inf
///   scaler.update();                          // the rule of exercise 04.1
/// @endcode
///
/// The host reads one flag per step (found_inf), never a gradient: unscale() is one
/// kernel launch over the whole gradient buffer (kernels/amp/unscale.hpp).
///
/// Misuse is an Error, as in PyTorch: unscale twice before update, step twice before
/// update, update without an unscale or step since the last update. Beyond PyTorch: a
/// fixed scale (`Mode::fixed`: never updated, steps still skipped on overflow), Megatron's
/// hysteresis with a minimum scale, and a maximum scale (ScaleRule).
#pragma once

#include <cstdint>
#include <string>

#include "04_loss_scaling/scale_update.hpp"
#include "common/backend.hpp"
#include "common/device_memory.hpp"
#include "common/dtype.hpp"

namespace halfway::amp {

/// A flat gradient buffer in a backend's memory (a parameter store's gradients).
struct GradBuffer {
  Backend backend = Backend::cpu;
  DType dtype = DType::f32;  ///< f32, or the 16-bit storage type of 16-bit gradients
  void* data = nullptr;
  std::int64_t count = 0;
};

/// How the scale moves.
enum class ScaleMode {
  dynamic,  ///< PyTorch's rule (update_scale)
  fixed,    ///< a static scale: update() never changes it
  off,      ///< scale 1, no check: every step is taken (PyTorch's enabled=False)
};

/// PyTorch's defaults: init 2^16, growth 2, backoff 0.5, interval 2000.
struct ScalerOptions {
  ScaleMode mode = ScaleMode::dynamic;
  float init_scale = 65536.0f;
  ScaleRule rule{};
};

class GradScaler {
 public:
  /// Checks the options: a positive finite scale, growth factor > 1, backoff in (0, 1),
  /// growth interval >= 1, hysteresis >= 1, 0 <= min_scale <= init_scale <= max_scale.
  explicit GradScaler(const ScalerOptions& options = {});

  /// The factor the loss is multiplied by (1 when off).
  float scale() const { return options_.mode == ScaleMode::off ? 1.0f : state_.scale; }
  /// 1/scale as PyTorch computes it: in double, rounded to float.
  float inv_scale() const { return static_cast<float>(1.0 / double(scale())); }

  /// grads *= inv_scale() in fp32, in place, and records whether any gradient is not
  /// finite (they are unscaled even then). Returns found_inf. One launch, one flag read.
  bool unscale(const GradBuffer& grads);
  /// Whether the optimizer may step now: false when the unscale found an inf or NaN.
  /// unscale() must have run since the last update (an Error otherwise: this scaler never
  /// reads gradients on its own).
  bool step();
  /// The end of a step: the scale moves by the rule (dynamic mode).
  void update();
  /// Gives up the step in progress (after an Error between unscale() and update(), such as
  /// the clip refusing a non-finite norm): back to the start of a step, with the scale and
  /// its counters unchanged (update() did not run). The caller discards the gradients.
  void abandon_step();

  /// The last unscale's verdict.
  bool found_inf() const { return found_inf_; }
  /// Steps skipped since construction (or since load()).
  std::int64_t skipped_steps() const { return skipped_; }
  const ScalerOptions& options() const { return options_; }

  /// Saved with a checkpoint: the scale, the growth tracker, the hysteresis allowance.
  const ScaleState& state() const { return state_; }
  /// Restores a saved state: any state the rule can reach from valid options, a scale that
  /// collapsed to 0 included.
  void load(const ScaleState& s);

 private:
  enum class Stage { ready, unscaled, stepped };
  ScalerOptions options_;
  ScaleState state_;
  Stage stage_ = Stage::ready;
  bool found_inf_ = false;
  std::int64_t skipped_ = 0;
  Buf<unsigned> flag_;  ///< the device flag unscale() raises: allocated once, on first use
};

/// "dynamic", "fixed" or "off".
std::string to_string(ScaleMode m);

}  // namespace halfway::amp
