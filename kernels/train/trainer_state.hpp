/// @file trainer_state.hpp
/// @brief Inside the trainer (kernels/train only): the state a `Trainer<S>` holds, shared by
/// the files of its concerns: the step (trainer.cpp), evaluation (evaluate.cpp) and
/// checkpoints (checkpoint.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/device_memory.hpp"
#include "common/number_words.hpp"
#include "common/stream.hpp"
#include "kernels/dist/sharded_optimizer.hpp"
#include "kernels/layers/transformer.hpp"
#include "kernels/optim/train_step.hpp"
#include "kernels/train/data.hpp"
#include "kernels/train/fault_inject.hpp"
#include "kernels/train/step_graph.hpp"
#include "kernels/train/trainer.hpp"

namespace halfway::train {

template <class S>
struct Trainer<S>::Impl {
  using A = float;
  TrainerOptions o;  ///< resolved(): checked, the defaults filled in
  layers::BackendScope scope;
  /// The trainer's own stream, current for its whole life (as the BackendScope): every
  /// step's work, evaluation and checkpoints go on it, one ordered list of work.
  Stream stream;
  StreamScope on_stream;
  layers::Seq2Seq<S> model;
  task::Split split;
  DataOrder order;
  amp::DeviceScaler scaler;
  /// The host's copies of the counts of steps taken, as of the last read of the log (the
  /// device's count drives the rate and Adam's step: kernels/optim/step_log.hpp).
  optim::Schedule schedule;
  optim::AdamState adam;
  optim::CheckNormWorkspace ws;
  optim::StepLogDevice log;  ///< the step's record and control words on the device
  optim::StepPlan plan;
  std::int64_t step = 0, micro = 0;  ///< steps run, micro-batches consumed
  /// Data parallel (ranks > 1): each micro-batch's loss weight, loss_weight x this rank's
  /// counted targets / the global micro-batch's, so the ranks' sum is the global mean.
  std::vector<double> rank_weights;
  int skipped_in_row = 0;            ///< as of the last read of the log
  StepResult last;                   ///< the last step's result (host fields; the rest as last read)
  std::uint64_t dropout_seed, sr_seed;
  /// ZeRO-1 (TrainerOptions::shard_optimizer): this rank's masters and moments; null otherwise.
  std::unique_ptr<dist::ShardedOptimizer> shard;
  const layers::Param<S>* fault_param = nullptr;
  /// The step being run, in the backend's memory: count_step() advances it at the start of
  /// each step and the fault hook reads it (fault_inject.hpp), so a replayed step sees its
  /// own number. step_word_at: what it holds before the next step (-1: to be uploaded).
  Buf<std::int64_t> step_word;
  std::int64_t step_word_at = -1;
  /// --cuda-graph on: the steady-state step, recorded once on `stream` and replayed
  /// (step_graph.hpp), one graph per shape of the step's micro-batches (B, Ls, Lt each).
  /// Dropped by anything that may have moved the buffers they point into (an allocation)
  /// or the state they were recorded with (a load): the next step records them again.
  std::map<std::vector<int>, std::unique_ptr<StepGraph>> graphs;
  std::int64_t direct_steps = 0;    ///< steps run directly since the graphs were last dropped
  std::int64_t replayed_steps = 0;  ///< steps replayed from a graph (tests)
  unsigned long long graph_allocations = 0;  ///< the backend's allocation count after the last capture
  /// Steps run directly before the first capture: the first one allocates what a step
  /// needs (workspaces, moments, the scaler's words) and fills the scaler's words.
  static constexpr std::int64_t kDirectSteps = 1;
  /// Chapter 09 (TrainerOptions::fp8): the Linear GEMMs in fp8, this thread's hook while
  /// the trainer lives.
  std::unique_ptr<fp8::Fp8Linears> fp8_gemms;
  std::optional<layers::LinearGemmsScope> fp8_hook;

  explicit Impl(const TrainerOptions& options);
  /// One optimizer step (Trainer::step()).
  StepResult run_step();
  /// Forgets the recorded steps (see graphs above).
  void drop_graphs() {
    graphs.clear();
    direct_steps = 0;
  }
  /// Reads the log (waits for the steps queued so far): fills `last` and the host's counts,
  /// then throws the Error of a collapse or a divergence the record holds.
  const StepResult& read_log();
  /// The record restarted from the host's counts (after a checkpoint's load).
  void restart_log();

 private:
  /// The step's device work on its micro-batches (Trainer::step()'s list): recorded by a
  /// graph or run as is.
  /// `preloaded`: the batches are in the model's batch slots already (a graphed step).
  void step_work(const std::vector<Batch>& batches, bool preloaded);
  /// Micro-batch i of this step: training, the dropout's seed and micro-batch index.
  layers::RunState micro_run(int i) const { return {true, dropout_seed, std::uint64_t(micro + i)}; }
  /// Runs step_work directly, or (--cuda-graph on, after the direct steps) from a graph.
  void run_step_work(StepResult& r, const std::vector<Batch>& batches);
  /// The fault hook (fault_inject.hpp): the value into fault_param's first gradient element.
  void inject_fault();
  /// The whole gradient buffer, in fp32 or in S (the store's GradType).
  amp::GradBuffer grads();
  void optimizer_step(const optim::GradFold& fold);
  /// The same on this rank's shard (ZeRO-1), then every rank's working copies gathered.
  void sharded_optimizer_step(const optim::GradFold& fold, const optim::TrainStepOptions& ts);
  /// The first parameter whose gradient holds an inf or NaN (host copies, one per view).
  std::string first_nonfinite();
};

}  // namespace halfway::train
