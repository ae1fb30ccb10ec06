/// @file linear_fp8.hpp
/// @brief fp8 training's Linear GEMMs (chapter 09): the hook (kernels/layers/linear_gemms.hpp)
/// that runs a bf16 model's three Linear GEMMs in fp8 with per-tensor scaling.
///
/// For each Linear (named by its weight) three tensors are cast, each with a scale of its
/// own (a "slot", linear_fp8_math.hpp): the input x and the weight w to e4m3, the incoming
/// gradient dy to the gradient format (e5m2, Transformer Engine's HYBRID recipe; e4m3 for
/// the ablation). Then, with the fp8 GEMM (gemm.hpp; on the cpu the register-blocked
/// version of the reference, gemm_packed.hpp), fp32 accumulation, and the product of the
/// two inverse scales applied to the result:
///
///     forward      y  = x W^T      e4m3 x e4m3      then + bias, rounded to bf16 (as in bf16)
///     weight grad  dW += dy^T x    dy x e4m3        into the fp32 gradient
///     input grad   dx = dy W       dy x e4m3        rounded to bf16
///
/// Each tensor is cast once (W once per step): the backward's transposed operands (dy^T,
/// x^T, W^T) are the forward's (or dy's) codes moved, as the slot's scale has not changed
/// in between. weight_grad comes after the Linear's forward and before its input_grad in
/// every backward (kernels/layers/modules.hpp). Attention's scores, softmax,
/// LayerNorm and the loss stay in bf16 and fp32 (chapter 03's policy).
///
/// Scaling (Fp8Scaling): delayed (the default, TE's DelayedScaling: the scale of a step comes
/// from the amaxes of the last H steps, margin 0, every scale 1 before the first update),
/// current (a pass over the tensor first), none (scale 1). Every step's amax of every slot
/// enters its history whatever the recipe (telemetry), on the device: end_step() is one
/// kernel, and nothing in a step is read back by the host. Casts made outside a step
/// (evaluation: recording off) use the scales as they are and record nothing. With current
/// scaling each cast measures its tensor's amax first (a pass more).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/backend.hpp"
#include "common/device_memory.hpp"
#include "kernels/fp8/gemm.hpp"
#include "kernels/fp8/linear_fp8_math.hpp"
#include "kernels/layers/linear_gemms.hpp"

namespace halfway::fp8 {

/// The settings of fp8 training (halfway-train's --fp8-* options).
struct Fp8Recipe {
  Fp8Scaling scaling = Fp8Scaling::delayed;
  Fp8Format grad_format = Fp8Format::e5m2;
  int history_length = 16;  ///< H (Transformer Engine's default is 1024; 16 here, a run is 1200 steps)
  int margin = 0;
};

/// "none", "current", "delayed": the option's spelling.
std::string to_string(Fp8Scaling s);
/// Parses those (UsageError otherwise).
Fp8Scaling parse_fp8_scaling(const std::string& text);
/// "e5m2" or "e4m3" (UsageError otherwise).
Fp8Format parse_fp8_format(const std::string& text);

/// One quantized tensor as the host reads it (telemetry, tests).
struct Fp8TensorReport {
  std::string linear;   ///< the Linear's weight, as the namer called it
  std::string role;     ///< "x", "w" or "dy"
  Fp8Format format = Fp8Format::e4m3;
  float scale = 1.0f;   ///< the scale of the next step's cast
  std::vector<float> history;  ///< the last H amaxes, oldest first
  unsigned long long cast = 0, saturated = 0, underflowed = 0;  ///< counted since the start
};

class Fp8Linears final : public layers::LinearGemms {
 public:
  /// The largest number of Linears a model may have (the slots' buffers are sized once).
  static constexpr int kMaxLinears = 64;
  /// `namer` gives a Linear's name from its weight pointer (called once per Linear).
  Fp8Linears(Backend backend, Fp8Recipe recipe, std::function<std::string(const void*)> namer);

  void forward(const bfloat16* x, int rows, int in, const bfloat16* w, std::int64_t ldw, int out,
               float* acc) override;
  void weight_grad(const bfloat16* x, const bfloat16* dy, std::int64_t lddy, int rows, int in, int out,
                   const bfloat16* w, std::int64_t ldw, float* dw) override;
  void input_grad(const bfloat16* dy, std::int64_t lddy, int rows, int in, int out, const bfloat16* w,
                  std::int64_t ldw, bfloat16* dx) override;

  /// Recording on: casts add their amax and counts to their slots (a training step).
  void set_recording(bool on) { recording_ = on; }
  /// After a step's backward: every slot's amax into its history, the next scales (device).
  void end_step();
  /// Reads every slot (waits for the queued work): outside a step.
  std::vector<Fp8TensorReport> report() const;
  /// fp8 GEMMs run so far (the tests' evidence that the fp8 path is taken).
  std::int64_t gemms() const { return gemms_; }
  const Fp8Recipe& recipe() const { return recipe_; }

 private:
  /// A Linear's codes. Each tensor is cast once; its transpose for the backward is the
  /// same codes moved (the scale has not changed). The weights change only at the
  /// optimizer step, after end_step(), which moves `generation_`: W is cast once per step.
  struct SiteCodes {
    Buf<std::uint8_t> w, wt, x, dy;      // W [out, in], W^T [in, out], x [rows, in], dy [rows, out]
    std::int64_t w_at = -1, wt_at = -1;  // the key (weight_key()) W and W^T were made at; -1: none
  };
  std::int64_t weight_key() const { return 2 * generation_ + (recording_ ? 1 : 0); }
  /// W's codes for this step (cast now if they are not).
  const std::uint8_t* weight_codes(int site, const bfloat16* w, int out, int in, std::int64_t ldw);
  /// out (cols x rows) = the codes q (rows x cols) transposed.
  std::uint8_t* transpose(Buf<std::uint8_t>& out, const std::uint8_t* q, int rows, int cols);
  int site(const void* w);
  /// Casts x [rows, cols] (row stride ld) with slot t's scale (current scaling: its own
  /// first); recording, adds its amax and counts to the slot.
  std::uint8_t* cast(Buf<std::uint8_t>& out, const bfloat16* x, int rows, int cols, std::int64_t ld, int t);
  float* gemm(const Fp8GemmShape& shape, const std::uint8_t* a, const std::uint8_t* b, float* c);

  Backend backend_;
  Fp8Recipe recipe_;
  std::function<std::string(const void*)> namer_;
  std::map<const void*, int> sites_;
  std::vector<std::string> names_;
  bool recording_ = false;
  std::int64_t gemms_ = 0;
  Buf<float> scales_, history_;  // [scale | inv_scale], [slots][H]
  Buf<unsigned> amax_;           // [step amax | current amax]
  Buf<unsigned long long> counts_;
  std::vector<std::unique_ptr<SiteCodes>> codes_;  // by site
  std::int64_t generation_ = 0;
  Buf<std::uint8_t> qa_, qb_;
  Buf<float> c_;
  Fp8State state_;
};

}  // namespace halfway::fp8
