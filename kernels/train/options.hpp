/// @file options.hpp
/// @brief What a training run is made of (TrainerOptions), the course's defaults for it, and
/// the text forms halfway-train's options take (fault, loss scaling, gradient storage,
/// master mode, model size).
///
/// The defaults live here once: TrainerOptions{} is the course's recipe (48 epochs of batch
/// 32, Adam + Noam with factor 0.25 and a warmup of half the run, clipping at 1, fp32
/// masters), the one that reaches >= 99% held-out in chapter 07's lesson; halfway-train's
/// options start from it.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include "common/backend.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/fp8/linear_fp8.hpp"
#include "kernels/layers/modules.hpp"
#include "kernels/optim/optimizer.hpp"
#include "kernels/optim/schedule.hpp"
#include "kernels/train/fault_inject.hpp"

namespace halfway::dist {
class Communicator;
}

namespace halfway::train {

enum class OptimizerKind { adam, sgd };
/// "adam" or "sgd": the option's spelling.
std::string to_string(OptimizerKind k);
/// The embedding's initialisation: the course's N(0, d^-1/2) or the seed's N(0, 1).
enum class InitKind { course, seed };

/// "inf@12" (an inf into one gradient at step 12), "nan@12+30" (NaN at steps 12..41),
/// optionally ":<parameter name>" (default: the first decoder layer's linear1.weight).
struct FaultInjection {
  std::int64_t step = 0;   ///< first step (from 1) to inject at; 0: never
  std::int64_t count = 1;  ///< steps in a row
  float value = INFINITY;
  std::string param;       ///< where; empty: the default above
  /// The rule the device applies (fault_inject.hpp).
  bool active(std::int64_t k) const { return fault_active(step, count, k); }
};
/// Parses the text form above; UsageError on a bad one.
FaultInjection parse_fault(const std::string& text);

/// "auto" (dynamic in fp16, off in fp32 and bf16, whose range is fp32's), "dynamic",
/// "static:S" (a fixed scale S > 0), "off". UsageError otherwise.
amp::ScalerOptions parse_loss_scaling(const std::string& text, bool fp16);

/// `--cuda-graph`: replay the steady-state step from a CUDA graph (step_graph.hpp).
/// automatic: on with the cuda backend where the run allows it (graph_blocker), off on emu
/// (the tests' backend runs the step directly unless a test asks for the graph: a kernel's
/// error then comes out of its own launch) and on the cpu (no streams).
enum class CudaGraph { automatic, on, off };
/// "on" or "off"; UsageError otherwise.
CudaGraph parse_cuda_graph(const std::string& text);
struct TrainerOptions;
/// Why `o`'s step cannot be replayed from a graph: a value that changes from step to step
/// still reaches a kernel as a host argument, which a graph would replay frozen (SGD's
/// stochastic-rounding seed). Empty when it can.
std::string graph_blocker(const TrainerOptions& o);

/// "fp32" (the default: fp32 gradients, torch.amp's way) or "16" (gradients in the 16-bit
/// storage type, half the bytes, kept scaled: the optimizer unscales each in fp32 registers;
/// Apex O2 instead unscales its fp16 gradients into fp32 master gradients). UsageError otherwise.
layers::GradType parse_grad_storage(const std::string& text);
/// "fp32" or "16": the option's spelling.
std::string to_string(layers::GradType g);

/// The master mode as halfway-train's --master spells it: "on", "off" or "sr" (one name
/// per mode in every message; checkpoints keep optim::to_string's "master"/"none"/"sr").
std::string master_option(optim::MasterMode m);

/// The model presets: "tiny" (d 32, 2 heads, 1+1 layers, ff 64: tests), "seed" (d 128,
/// 4 heads, 2+2 layers, ff 2048: the seed's nn.Transformer), "base" (d 512, 8 heads, 6+6,
/// ff 2048). UsageError otherwise.
layers::Config model_preset(const std::string& name);

/// Noam's warmup sized to a run of `steps` optimizer steps: half the run (the rate peaks
/// halfway and has decayed by 1/sqrt(2) at the end), at least 1.
std::int64_t default_warmup(std::int64_t steps);

/// The default run's length in passes over the training numbers.
inline constexpr std::int64_t kDefaultEpochs = 48;
/// Optimizer steps of `epochs` passes over the training numbers (the first `train_limit`
/// of them when > 0) in micro-batches of `batch`, `accumulate` micro-batches per step
/// (rounded up). The default run: 48 epochs of 800 numbers at batch 32 = 1200 steps.
std::int64_t steps_for_epochs(std::int64_t epochs, int batch, int accumulate, std::int64_t train_limit);

/// The largest batch evaluate() and translate() decode at once: a bound that keeps their
/// memory independent of the set's size (TrainerOptions::eval_batch sizes the model for it).
inline constexpr int kEvalBatch = 256;

struct TrainerOptions {
  layers::Config model{};
  Backend backend = Backend::cpu;
  std::uint64_t seed = 1;           ///< weights, data order, dropout, stochastic rounding
  std::uint64_t split_seed = 0;     ///< the task's train/held-out split (the same for every run)
  std::int64_t train_limit = 0;     ///< > 0: train on the first N training numbers only (tests)
  int batch = 32;
  int accumulate = 1;               ///< micro-batches per optimizer step
  /// The largest evaluation batch the model's buffers are sized for when the trainer is
  /// built (evaluate() decodes in batches of at most kEvalBatch): evaluation and translation
  /// then allocate nothing. 0: sized for training only (chapter 07's memory report).
  int eval_batch = 256;
  /// The run's length (the schedule's T; a resumed run continues to it). 0: kDefaultEpochs
  /// epochs at this batch (steps_for_epochs), 1200 steps at batch 32.
  std::int64_t steps = 0;
  OptimizerKind optimizer = OptimizerKind::adam;
  optim::AdamOptions adam{1e-3, 0.9, 0.98, 1e-9, 0.0, false};  ///< lr unused: the schedule gives it
  /// Noam with factor 0.25; warmup 0: default_warmup(steps), half the run.
  optim::ScheduleOptions schedule{optim::ScheduleKind::noam, 1e-3, 0, 0, 0.0, 0.25, 128};
  bool clip = true;
  float max_norm = 1.0f;
  /// The gradients' type in the store: fp32, or the 16-bit S (16-bit precisions only): then
  /// every micro-batch's backward adds into S with one rounding per element.
  layers::GradType grad_storage = layers::GradType::fp32;
  amp::ScalerOptions scaler{amp::ScaleMode::off};
  optim::MasterMode master = optim::MasterMode::master;
  InitKind init = InitKind::course;
  FaultInjection fault{};
  /// resolved() turns automatic into on or off for the backend; on needs emu or cuda.
  CudaGraph cuda_graph = CudaGraph::automatic;
  int collapse_after = 20;          ///< skipped steps in a row that stop the run
  /// Steps between the host's reads of the step log (kernels/optim/step_log.hpp): only
  /// every log_every-th step (and the last) fills StepResult's loss, norm, scale and skip
  /// and checks for a collapse; 1 reads after every step.
  std::int64_t log_every = 10;
  bool checkpoint_crash = false;    ///< fault hook: save() "crashes" halfway through its tensor file
  /// Test hook (halfway-train reads HALFWAY_CHECKPOINT_PAUSE_MS): save() pauses this long
  /// halfway through each file it writes, after a line on stderr, so that a test can kill
  /// the process mid-write with SIGKILL. 0: no pause.
  int checkpoint_pause_ms = 0;
  /// The loss is multiplied by this before backward (the reported loss is not): < 1 gives
  /// the smaller gradients of a mean over more tokens per batch (chapter 04's
  /// demonstration; pair it with an SGD rate divided by the same factor).
  double loss_weight = 1.0;
  /// Data parallel (chapter 08): when set, called once a step with the flat gradient buffer
  /// after the last micro-batch's backward, before the unscale-and-check and the optimizer
  /// step: kernels/dist's sum_gradients over the ranks (with ranks > 1 each rank's loss is
  /// weighted by its share of the global micro-batch's counted targets, so the sum is the
  /// mean over all of them, as one process takes it). Empty: one process.
  std::function<void(const amp::GradBuffer&)> after_backward;
  /// Data parallel with buckets (chapter 08, kernels/dist/gradient_buckets.hpp): when set,
  /// called during the last micro-batch's backward each time the gradients from element
  /// `from` on are final, and once with `from` = the buffer's count before it begins. Not
  /// called on a step with an injected fault (the fault is written after the backward).
  std::function<void(const amp::GradBuffer&, std::int64_t from)> grads_final;
  /// Data parallel: this process's share of every global micro-batch of `batch` numbers
  /// (DataOrder::set_shard). 0 of 1: one process.
  int rank = 0;
  int ranks = 1;
  /// ZeRO-1 (chapter 08, --shard-optimizer): when set, the fp32 masters and Adam's moments
  /// are sharded over these ranks (kernels/dist/sharded_optimizer.hpp) and the trainer
  /// reduce-scatters the gradients itself (after_backward is then not called). cpu and
  /// emu; masters kept or none (not sr). Collective: every rank's save() and the host
  /// copies of the masters and moments gather the shards.
  dist::Communicator* shard_optimizer = nullptr;
  /// Chapter 09: the Linear layers' GEMMs in fp8 with per-tensor scaling
  /// (kernels/fp8/linear_fp8.hpp); bf16 storage and fp32 gradients only.
  bool fp8 = false;
  fp8::Fp8Recipe fp8_recipe{};
  /// ZeRO-1's found_inf max over the ranks (exercise 08.3). false only for chapter 08's
  /// ablation (ch08_no_consensus); no command-line flag sets it.
  bool found_inf_consensus = true;
};

/// `o` checked for a trainer in fp32 (`fp32`) or a 16-bit precision, with the defaults
/// filled in (steps 0, warmup 0) and the schedule sized to the run. UsageError naming the
/// first bad value.
TrainerOptions resolved(TrainerOptions o, bool fp32);

}  // namespace halfway::train
