/// @file optimizer.hpp
/// @brief Adam and AdamW (and plain SGD, for chapter 04's experiments) over a whole
/// parameter store in one pass (chapter 05).
///
/// One step reads each parameter's gradient (fp32 or 16-bit), updates its two fp32
/// moments and its weight, and writes the working copy the next forward pass reads, all
/// in the same pass over the flat buffers: one kernel launch per step on emu and cuda,
/// one OpenMP loop on the cpu, with the same arithmetic per element (exercise 05.1,
/// solutions/05_master_weights/adam_element.hpp), hence the same bits.
///
/// Where the weight lives decides what survives a small update (MasterMode):
/// - `master`: fp32 masters; the working copy is st<S>(master), round to nearest even.
///   The default of mixed precision: an update below half a 16-bit ulp accumulates in the
///   master until it shows.
/// - `none`: the weight exists only in S. Every step computes w + update in fp32 from the
///   16-bit weight and rounds it back to nearest: updates below half an ulp are lost.
/// - `stochastic`: as none, but rounded stochastically (exercise 05.2) with 32 random bits
///   per element from the course's counter-based RNG (seed, step, element): unbiased on
///   average, and a run is reproducible.
/// In fp32 training (S = float) the working copy is the master: mode `master` only.
///
/// A step the loss scaler skipped is simply not run: masters, moments, working copies
/// and the step count stay bit-unchanged (AdamState::step counts steps taken). In the
/// fused step (grad_fold.hpp) the kernel itself reads the skip word and returns.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "05_master_weights/adam_element.hpp"
#include "common/backend.hpp"
#include "common/dtype.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"
#include "kernels/optim/grad_fold.hpp"

namespace halfway::optim {

enum class MasterMode { master, none, stochastic };
/// "master", "none", "sr".
std::string to_string(MasterMode m);
/// Parses "master"/"on", "none"/"off", "sr"; UsageError otherwise.
MasterMode parse_master_mode(const std::string& s);

/// PyTorch's defaults (torch.optim.Adam); AdamW's weight decay default is 1e-2.
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  ///< AdamW
};

/// What a checkpoint saves besides the moments: steps taken.
struct AdamState {
  std::int64_t step = 0;
};

/// The constants of step `step` (>= 1) at learning rate `lr`, computed in double as
/// PyTorch does and rounded to float. Throws Error on bad options (lr < 0, betas outside
/// [0, 1), eps <= 0, weight_decay < 0, step < 1).
AdamConstants adam_constants(const AdamOptions& o, double lr, std::int64_t step);

/// The same without the checks (host and device: the trainer computes them on the device
/// from its count of steps taken, kernels/optim/step_log.hpp). On a GPU pow is CUDA's.
HALFWAY_HD_INLINE AdamConstants adam_constants_unchecked(const AdamOptions& o, double lr, std::int64_t step) {
  const double bc1 = 1.0 - std::pow(o.beta1, double(step));
  const double bc2 = 1.0 - std::pow(o.beta2, double(step));
  AdamConstants c{};
  c.beta1 = float(o.beta1);
  c.beta2 = float(o.beta2);
  c.one_minus_beta1 = float(1.0 - o.beta1);
  c.one_minus_beta2 = float(1.0 - o.beta2);
  c.eps = float(o.eps);
  c.weight_decay = float(o.weight_decay);
  c.decoupled = o.decoupled;
  c.decay = float(1.0 - lr * o.weight_decay);
  c.step_size = float(lr / bc1);
  c.bc2_sqrt = float(std::sqrt(bc2));
  return c;
}

/// The flat buffers one step updates, in `backend`'s memory (a ParamStore's).
struct ParamBuffers {
  Backend backend = Backend::cpu;
  std::int64_t count = 0;
  float* master = nullptr;        ///< fp32 masters; in modes none/stochastic unused (may be null)
  void* working = nullptr;        ///< the working copies, of `working_type`
  DType working_type = DType::f32;  ///< f32 (then working == master), f16 or bf16
  const void* grad = nullptr;     ///< the gradients, of `grad_type`
  DType grad_type = DType::f32;   ///< f32, or working_type (16-bit gradients)
  float* m = nullptr;
  float* v = nullptr;
  GradFold fold{};  ///< the fused step's device words (grad_fold.hpp); none: gradients as stored
};

/// One Adam step over every element. `seed` and `step` pick the random words of stochastic
/// rounding (element i of step t draws rng::bits(derive_seed(seed, t), i)).
void adam_step(const ParamBuffers& b, const AdamConstants& c, MasterMode mode, std::uint64_t seed,
               std::int64_t step);
/// One plain SGD step, w <- w - lr g, in the same master-weight modes (the moments are not
/// used and may be null).
void sgd_step(const ParamBuffers& b, float lr, MasterMode mode, std::uint64_t seed, std::int64_t step);

}  // namespace halfway::optim

/// The kernels: one launch over n elements; Adam, or SGD with lr in c.step_size; `mode` is
/// MasterMode as an int; `sr_seed` the step's derived seed; `fold` device words (or none).
/// Return after the launch.
#define HALFWAY_ADAM_KERNEL_FOR(S, G)                                                                   \
  void optimizer_step(bool sgd, float* master, S* working, const G* grad, float* m, float* v,          \
                      std::int64_t n, ::halfway::optim::AdamConstants c, int mode, std::uint64_t sr_seed, \
                      ::halfway::optim::GradFold fold);
HALFWAY_KERNEL_API(
  HALFWAY_ADAM_KERNEL_FOR(float, float)
  HALFWAY_ADAM_KERNEL_FOR(::halfway::half, float)
  HALFWAY_ADAM_KERNEL_FOR(::halfway::half, ::halfway::half)
  HALFWAY_ADAM_KERNEL_FOR(::halfway::bfloat16, float)
  HALFWAY_ADAM_KERNEL_FOR(::halfway::bfloat16, ::halfway::bfloat16)
)
