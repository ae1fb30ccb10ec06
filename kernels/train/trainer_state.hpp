/// @file trainer_state.hpp
/// @brief Inside the trainer (kernels/train only): the state a `Trainer<S>` holds, shared by
/// the files of its concerns: the step (trainer.cpp), evaluation (evaluate.cpp) and
/// checkpoints (checkpoint.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "common/number_words.hpp"
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
  layers::Seq2Seq<S> model;
  task::Split split;
  DataOrder order;
  amp::DeviceScaler scaler;
  optim::Schedule schedule;
  optim::AdamState adam;
  optim::CheckNormWorkspace ws;
  std::int64_t step = 0, micro = 0;  ///< optimizer steps taken, micro-batches consumed
  int skipped_in_row = 0;
  std::uint64_t dropout_seed, sr_seed;
  const layers::Param<S>* fault_param = nullptr;

  explicit Impl(const TrainerOptions& options);
  /// One optimizer step (Trainer::step()).
  StepResult run_step();

 private:
  /// The whole gradient buffer, in fp32 or in S (the store's GradType).
  amp::GradBuffer grads();
  void optimizer_step(double lr, const optim::GradFold& fold);
  /// The first parameter whose gradient holds an inf or NaN (host copies, one per view).
  std::string first_nonfinite();
};

}  // namespace halfway::train
