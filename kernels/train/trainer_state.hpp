/// @file trainer_state.hpp
/// @brief Inside the trainer (kernels/train only): the state a `Trainer<S>` holds, shared by
/// the files of its concerns: the step (trainer.cpp), evaluation (evaluate.cpp) and
/// checkpoints (checkpoint.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "common/number_words.hpp"
#include "common/stream.hpp"
#include "kernels/layers/transformer.hpp"
#include "kernels/optim/train_step.hpp"
#include "kernels/train/data.hpp"
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
  int skipped_in_row = 0;            ///< as of the last read of the log
  StepResult last;                   ///< the last step's result (host fields; the rest as last read)
  std::uint64_t dropout_seed, sr_seed;
  const layers::Param<S>* fault_param = nullptr;

  explicit Impl(const TrainerOptions& options);
  /// One optimizer step (Trainer::step()).
  StepResult run_step();
  /// Reads the log (waits for the steps queued so far): fills `last` and the host's counts,
  /// then throws the Error of a collapse or a divergence the record holds.
  const StepResult& read_log();
  /// The record restarted from the host's counts (after a checkpoint's load).
  void restart_log();

 private:
  /// The whole gradient buffer, in fp32 or in S (the store's GradType).
  amp::GradBuffer grads();
  void optimizer_step(const optim::GradFold& fold);
  /// The first parameter whose gradient holds an inf or NaN (host copies, one per view).
  std::string first_nonfinite();
};

}  // namespace halfway::train
