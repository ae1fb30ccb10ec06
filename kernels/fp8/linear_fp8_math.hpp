/// @file linear_fp8_math.hpp
/// @brief The per-value and per-tensor steps of fp8 training (linear_fp8.hpp), written once
/// for the cpu loops and the kernels: a counted cast, and a tensor's scale after a step.
///
/// A training run's scaling state is flat (issue 21's rule: the step reads nothing back):
/// for each quantized tensor (a "slot": a Linear's input x, its weight w or its incoming
/// gradient dy) a scale and its inverse, the amax this step has seen so far (as the bits of
/// |x|, which order like |x| and put NaN above inf, so an integer max records both), the
/// amax history (oldest first) and the counts of values cast, saturated and underflowed.
#pragma once

#include <cstdint>

#include "09_fp8/delayed_scale.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/fp8/fp8.hpp"

namespace halfway::fp8 {

/// Where a tensor's scale comes from (scaling.hpp): none (1: the values as they are),
/// current (this tensor's amax) or delayed (the amax history's).
enum class Fp8Scaling : std::uint8_t { none, current, delayed };

/// The slots of one Linear: its input, its weight, its incoming gradient.
inline constexpr int kSlotsPerLinear = 3;
enum class Fp8Role : std::uint8_t { x = 0, w = 1, dy = 2 };

/// The device words of every slot (pointers into the backend's memory).
struct Fp8State {
  float* scale = nullptr;                 ///< [slots]: the cast's multiplier
  float* inv_scale = nullptr;             ///< [slots]: 1 / scale, applied to the GEMM's output
  unsigned* step_amax = nullptr;          ///< [slots]: bits of the step's amax so far (0 after end_step)
  unsigned* current_amax = nullptr;       ///< [slots]: current scaling's amax of the tensor about to be cast
  float* history = nullptr;               ///< [slots][history_length], oldest first
  unsigned long long* counts = nullptr;   ///< [slots][3]: cast, saturated, underflowed
  int history_length = 16;
  int margin = 0;
  Fp8Scaling scaling = Fp8Scaling::delayed;
  Fp8Format grad_format = Fp8Format::e5m2;
};

/// The format of slot t: e4m3 for inputs and weights, the gradient format for dy.
HALFWAY_HD_INLINE Fp8Format slot_format(const Fp8State& s, int t) {
  return t % kSlotsPerLinear == int(Fp8Role::dy) ? s.grad_format : Fp8Format::e4m3;
}

/// What casts did, to be added into a slot: the amax's bits, saturated and underflowed.
struct CastTally {
  unsigned amax_bits = 0;
  unsigned saturated = 0;
  unsigned underflowed = 0;
};

/// fp8(x * scale), saturating (scaling.hpp's cast), counted into `t`: saturated when
/// |x * scale| > max, underflowed when x != 0 casts to +-0 (non-finite x only reach amax).
HALFWAY_HD inline std::uint8_t cast_counted(float x, float scale, Fp8Format format, CastTally& t) {
  const float y = x * scale;
  const std::uint8_t q = float_to_fp8_bits(y, format, Saturation::finite);
  const unsigned a = float_to_bits(x) & 0x7FFFFFFFu;
  if (a > t.amax_bits) t.amax_bits = a;
  if (x - x == 0.0f) {  // finite
    const float max = fp8_max(format);
    if (y > max || y < -max) ++t.saturated;
    if (x != 0.0f && fp8_is_zero(q)) ++t.underflowed;
  }
  return q;
}

/// Current scaling: slot t's scale from the amax just measured (scaling.hpp's
/// current_scale), and the amax word cleared for the next tensor.
HALFWAY_HD inline void set_current_scale(const Fp8State& s, int t) {
  const float amax = bits_to_float(s.current_amax[t]);
  const float scale = delayed_scale(&amax, 1, fp8_max(slot_format(s, t)), s.margin, 1.0f);
  s.scale[t] = scale;
  s.inv_scale[t] = 1.0f / scale;
  s.current_amax[t] = 0;
}

/// After a step, slot t: the step's amax enters the history (the oldest leaves), and with
/// delayed scaling the next step's scale comes from it (exercise 09.2's delayed_scale).
HALFWAY_HD inline void end_step_slot(const Fp8State& s, int t) {
  float* h = s.history + std::int64_t(t) * s.history_length;
  for (int i = 0; i + 1 < s.history_length; ++i) h[i] = h[i + 1];
  h[s.history_length - 1] = bits_to_float(s.step_amax[t]);
  s.step_amax[t] = 0;
  if (s.scaling != Fp8Scaling::delayed) return;
  const float scale = delayed_scale(h, s.history_length, fp8_max(slot_format(s, t)), s.margin, s.scale[t]);
  s.scale[t] = scale;
  s.inv_scale[t] = 1.0f / scale;
}

/// The factor a GEMM of slots a and b gets: the product of their inverse scales in float
/// (gemm_reference.hpp's step 3).
HALFWAY_HD_INLINE float output_scale(const Fp8State& s, int a, int b) { return s.inv_scale[a] * s.inv_scale[b]; }

}  // namespace halfway::fp8
