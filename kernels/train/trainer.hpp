/// @file trainer.hpp
/// @brief The course's trainer (chapter 07): the seed's Transformer trained on the
/// number-words task with everything chapters 03-06 built, one call per step.
///
/// One step (Trainer::step()), in this order:
///
/// @code
///   zero the gradients                                  (chapter 03: the parameter store, one launch)
///   for each of `accumulate` micro-batches:
///     forward(batch, dropout seed of this micro-batch)  (chapter 03)
///     loss = cross_entropy(logits) ; dlogits *= scale / accumulate   (chapter 04: the loss scale)
///     backward()                                        (gradients accumulate in fp32, or in S with
///                                                        16-bit gradient storage: one rounding per micro-batch)
///   [fault hook: an inf or NaN into one gradient]
///   device_train_step: rate and Adam's constants from the device's count (ch06, ch05),
///               check + norm (ch04, ch06), Adam/SGD with the unscale and clip folded in +
///               working copies (ch05), scale update (ch04), the step log
///               (kernels/optim/train_step.hpp, step_log.hpp)
/// @endcode
///
/// The step's control stays on the device (kernels/optim/step_log.hpp): the rate and Adam's
/// bias corrections come from a device count of the steps taken, and the loss, the norm,
/// the skips and the scale accumulate into a log record. The host reads that record only
/// every `log_every` steps, on the run's last step, and for checkpoints (an async copy into
/// pinned memory, waited for at an event); all the work goes on the trainer's own stream.
/// It reads whole tensors only for evaluation (logits), checkpoints, and the collapse
/// report: after `collapse_after` skipped steps in a row the run stops with an Error naming
/// the first parameter whose gradient is not finite, instead of looping with a vanishing
/// scale. The Error (as a divergence's) comes at the first read after it happened, up to
/// `log_every - 1` steps later, and names the step where it happened.
///
/// With `--cuda-graph on` (TrainerOptions::cuda_graph; emu and cuda) the step's device work
/// is captured once per shape of its micro-batches, after one direct step, and replayed
/// (step_graph.hpp): the host takes the batches, preloads them into their slots and launches
/// the graph; the fault hook is a kernel that reads a device step counter (fault_inject.hpp).
/// The replayed steps give the bits of the direct ones (chapter 07's graph replay test).
///
/// Reproducibility: the initial weights, the data order (data.hpp), dropout and stochastic
/// rounding are pure functions of the seed and the micro-batch or step counter, so a
/// checkpoint (save()/load()) restores the run exactly: N steps straight and N/2 + save +
/// load + N/2 give the same bits.
///
/// The code by concern: options.hpp (what a run is made of, its defaults and checks),
/// trainer.cpp (the state and the step), evaluate.cpp (greedy decoding), checkpoint.hpp
/// (save, load, what a checkpoint holds); trainer_state.hpp is the state they share.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/layers/modules.hpp"
#include "kernels/train/checkpoint.hpp"
#include "kernels/train/options.hpp"

namespace halfway::fp8 {
class Fp8Linears;
}

namespace halfway::train {

/// What one step did (host scalars). The host reads the device's step log on logging steps
/// only (TrainerOptions::log_every, and the run's last step): `logged` says this step's
/// loss, lr, scale, grad_norm, skipped and skipped_steps were read; on other steps they
/// keep their defaults.
struct StepResult {
  std::int64_t step = 0;      ///< this step's number (from 1)
  double loss = 0;            ///< mean token loss over the micro-batches (unscaled)
  double lr = 0;
  float scale = 1;            ///< the loss scale this step used
  float grad_norm = 0;        ///< before clipping (inf/NaN on a skipped step)
  bool skipped = false;
  std::int64_t tokens = 0;    ///< target tokens (with `<eos>`, without padding)
  bool logged = false;        ///< the fields above were read from the device's log
  std::int64_t skipped_steps = 0;  ///< steps skipped since this trainer was built (or loaded)
};

/// Greedy decoding of a set of numbers.
struct EvalResult {
  int count = 0, exact = 0;
  std::int64_t tokens = 0, correct_tokens = 0;
  std::vector<std::string> examples;   ///< "407 -> four zero seven"
  std::vector<std::string> failures;   ///< "407 -> four seven (expected four zero seven)"
  double exact_match() const { return count ? double(exact) / count : 0.0; }
  double token_accuracy() const { return tokens ? double(correct_tokens) / double(tokens) : 0.0; }
};

/// The trainer in storage type S (float, half, bfloat16). It runs the model on
/// options.backend for its whole life (it holds the BackendScope): build, use and destroy
/// it on one thread, and do not nest another trainer inside.
template <class S>
class Trainer {
 public:
  explicit Trainer(const TrainerOptions& options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// One optimizer step (see the file's description). Throws Error on a collapse or a
  /// divergence, found when the log is read: at the logging step after it happened.
  StepResult step();
  /// The last step's result, with the device's log read now (a wait): for a caller that
  /// needs the values on a step that was not a logging step. Throws as step() does.
  StepResult read_log();
  /// Steps taken so far (skipped ones count: they consumed their batches).
  std::int64_t steps_done() const;
  /// The options as the trainer runs them (resolved(): the defaults filled in).
  const TrainerOptions& options() const;

  /// Greedy decoding, batched: exact match, token accuracy, up to `examples` examples and
  /// `max_failures` failures.
  EvalResult evaluate(const std::vector<int>& numbers, int examples = 5, int max_failures = 20);
  /// The greedy output tokens of each number (words and `<eos>`, up to 4 tokens).
  std::vector<std::vector<std::int32_t>> translate(const std::vector<int>& numbers);
  const std::vector<int>& train_numbers() const;
  const std::vector<int>& held_out_numbers() const;

  /// Writes a checkpoint into `dir` (see checkpoint_io.hpp for the atomic write).
  void save(const std::string& dir);
  /// Restores a checkpoint of the same model shape, precision, gradient storage and master
  /// mode; one clear Error otherwise (nothing is changed then).
  void load(const std::string& dir);

  /// Host copies for tests: every master (an Error in a run without masters), the moments
  /// (empty before the first Adam step), the loss scale.
  std::vector<float> masters_host();
  /// Every weight in fp32: the masters, or in a run without masters (--master off or sr)
  /// its 16-bit working copies, widened exactly.
  std::vector<float> weights_host();
  std::vector<float> moments_host();
  /// The gradient buffer as the last step left it (widened exactly to fp32 when kept in S):
  /// unscaled and clipped unless scaling and clipping are off.
  /// `param`: that parameter's gradient only (an Error for a name the model does not have).
  std::vector<float> grads_host(const std::string& param = "");
  float loss_scale() const;
  /// What the parameter store allocated, per buffer (masters, working copies, gradients,
  /// moments): no masters in modes none and sr, whose update reads the working copies only.
  layers::StoreBytes store_bytes() const;
  /// Parameters (no padding).
  std::int64_t parameter_count() const;
  /// Chapter 09: the fp8 Linear GEMMs of a run with TrainerOptions::fp8 (null otherwise).
  fp8::Fp8Linears* fp8_linears();
  /// The model itself (tests, telemetry).
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

extern template class Trainer<float>;
extern template class Trainer<half>;
extern template class Trainer<bfloat16>;

}  // namespace halfway::train
