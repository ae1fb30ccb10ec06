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
///   train_step: unscale + check (ch04), clip (ch06), Adam/SGD + working copies (ch05),
///               scale update (ch04), schedule (ch06)   (kernels/optim/train_step.hpp)
/// @endcode
///
/// The host reads scalars only: the loss, the found-inf flag, the norm. It reads whole
/// tensors only for evaluation (logits), checkpoints, and the collapse report: after
/// `collapse_after` skipped steps in a row the run stops with an Error naming the first
/// parameter whose gradient is not finite, instead of looping with a vanishing scale.
///
/// Reproducibility: the initial weights, the data order (data.hpp), dropout and stochastic
/// rounding are pure functions of the seed and the micro-batch or step counter, so a
/// checkpoint (save()/load()) restores the run exactly: N steps straight and N/2 + save +
/// load + N/2 give the same bits.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/backend.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/layers/modules.hpp"
#include "kernels/optim/optimizer.hpp"
#include "kernels/optim/schedule.hpp"

namespace halfway::train {

enum class OptimizerKind { adam, sgd };
/// The embedding's initialisation: the course's N(0, d^-1/2) or the seed's N(0, 1).
enum class InitKind { course, seed };

/// "inf@12" (an inf into one gradient at step 12), "nan@12+30" (NaN at steps 12..41),
/// optionally ":<parameter name>" (default: the first decoder layer's linear1.weight).
struct FaultInjection {
  std::int64_t step = 0;   ///< first step (from 1) to inject at; 0: never
  std::int64_t count = 1;  ///< steps in a row
  float value = INFINITY;
  std::string param;       ///< where; empty: the default above
  bool active(std::int64_t k) const { return step > 0 && k >= step && k < step + count; }
};
/// Parses the text form above; UsageError on a bad one.
FaultInjection parse_fault(const std::string& text);

/// "auto" (dynamic in fp16, off in fp32 and bf16, whose range is fp32's), "dynamic",
/// "static:S" (a fixed scale S > 0), "off". UsageError otherwise.
amp::ScalerOptions parse_loss_scaling(const std::string& text, bool fp16);

/// "fp32" (the default: fp32 gradients, torch.amp's way) or "16" (gradients in the 16-bit
/// storage type, half the bytes: Apex O2's way). UsageError otherwise.
layers::GradType parse_grad_storage(const std::string& text);
/// "fp32" or "16": the option's spelling.
std::string to_string(layers::GradType g);

/// The model presets: "tiny" (d 32, 2 heads, 1+1 layers, ff 64: tests), "seed" (d 128,
/// 4 heads, 2+2 layers, ff 2048: the seed's nn.Transformer), "base" (d 512, 8 heads, 6+6,
/// ff 2048). UsageError otherwise.
layers::Config model_preset(const std::string& name);

/// Noam's warmup sized to a run of `steps` optimizer steps: half the run (the rate peaks
/// halfway and has decayed by 1/sqrt(2) at the end), at least 1.
std::int64_t default_warmup(std::int64_t steps);

struct TrainerOptions {
  layers::Config model{};
  Backend backend = Backend::cpu;
  std::uint64_t seed = 1;           ///< weights, data order, dropout, stochastic rounding
  std::uint64_t split_seed = 0;     ///< the task's train/held-out split (the same for every run)
  std::int64_t train_limit = 0;     ///< > 0: train on the first N training numbers only (tests)
  int batch = 32;
  int accumulate = 1;               ///< micro-batches per optimizer step
  std::int64_t steps = 800;         ///< the run's length (the schedule's T; a resumed run continues to it)
  OptimizerKind optimizer = OptimizerKind::adam;
  optim::AdamOptions adam{1e-3, 0.9, 0.98, 1e-9, 0.0, false};  ///< lr unused: the schedule gives it
  optim::ScheduleOptions schedule{optim::ScheduleKind::noam, 1e-3, 400, 0, 0.0, 0.5, 128};
  bool clip = true;
  float max_norm = 1.0f;
  /// The gradients' type in the store: fp32, or the 16-bit S (16-bit precisions only): then
  /// every micro-batch's backward adds into S with one rounding per element.
  layers::GradType grad_storage = layers::GradType::fp32;
  amp::ScalerOptions scaler{amp::ScaleMode::off};
  optim::MasterMode master = optim::MasterMode::master;
  InitKind init = InitKind::course;
  FaultInjection fault{};
  int collapse_after = 20;          ///< skipped steps in a row that stop the run
  bool checkpoint_crash = false;    ///< fault hook: save() "crashes" halfway through its tensor file
  /// Test hook (halfway-train reads HALFWAY_CHECKPOINT_PAUSE_MS): save() pauses this long
  /// halfway through each file it writes, after a line on stderr, so that a test can kill
  /// the process mid-write with SIGKILL. 0: no pause.
  int checkpoint_pause_ms = 0;
  /// The loss is multiplied by this before backward (the reported loss is not): < 1 gives
  /// the smaller gradients of a mean over more tokens per batch (chapter 04's
  /// demonstration; pair it with an SGD rate divided by the same factor).
  double loss_weight = 1.0;
};

/// What one step did (host scalars).
struct StepResult {
  std::int64_t step = 0;      ///< this step's number (from 1)
  double loss = 0;            ///< mean token loss over the micro-batches (unscaled)
  double lr = 0;
  float scale = 1;            ///< the loss scale this step used
  float grad_norm = 0;        ///< before clipping (inf/NaN on a skipped step)
  bool skipped = false;
  std::int64_t tokens = 0;    ///< target tokens (with `<eos>`, without padding)
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

  /// One optimizer step (see the file's description). Throws Error on a collapse.
  StepResult step();
  /// Steps taken so far (skipped ones count: they consumed their batches).
  std::int64_t steps_done() const;
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
  /// The model itself (tests, telemetry).
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

extern template class Trainer<float>;
extern template class Trainer<half>;
extern template class Trainer<bfloat16>;

/// What a checkpoint says about its run, read without loading it: a program resuming it
/// (or translating with it) takes these as its defaults.
struct CheckpointInfo {
  std::string precision;        ///< "fp32", "fp16", "bf16"
  std::string grad_storage = "fp32";  ///< "fp32" or "16" (a checkpoint without the field: fp32)
  std::string master = "master";      ///< the master mode: "master", "none" or "sr"
  layers::Config model{};       ///< the shape (dropout and the rest: the defaults)
  std::uint64_t seed = 0, split_seed = 0;
  int batch = 0, accumulate = 1;
  std::int64_t train_limit = 0, step = 0, steps_planned = 0, warmup = 0;
  double lr_factor = 0;
};
/// Error when dir holds no readable checkpoint.
CheckpointInfo read_checkpoint_info(const std::string& dir);

}  // namespace halfway::train
