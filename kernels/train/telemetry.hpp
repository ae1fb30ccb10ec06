/// @file telemetry.hpp
/// @brief Chapter 04's range telemetry during a chapter 07 run: every N steps, where the
/// gradients of the run's current weights would land in fp16 and bf16 at the run's current
/// loss scale, layer by layer (`halfway-train --telemetry FILE.csv --telemetry-every N`).
///
/// The probe is an fp32 copy of the model with buffers of its own, on the cpu: it loads
/// the trainer's weights (its fp32 masters, or in a run without masters its 16-bit working
/// copies, widened exactly), runs one training forward and backward (dropout on) on a
/// fixed probe batch (the first `batch` training numbers, the same at every measurement)
/// with the unscaled loss, and shows every activation gradient (the model's GradObserver:
/// the logits', the decoder's output, each layer's input, the memory's) and every parameter
/// gradient to amp::count_ranges at the multiplier the run's backward applies. It reads the trainer and writes nothing
/// back: a run with telemetry trains the same bits as one without (a test).
///
/// Why a copy in fp32 and not the run's own gradients: in an fp16 run those are already
/// stored in fp16, so whatever underflowed is already 0 and looks like an exact zero (a
/// ReLU's). Only the fp32 values say what fp16 loses; this is chapter 04's measurement
/// (chapters/04_loss_scaling/underflow.cpp), taken along a real run.
///
/// Each tensor is counted at the run's loss scale and, when that is not 1, also at scale 1:
/// what the same gradients would lose without loss scaling.
///
/// CSV columns: step, run_scale (the run's loss scale after that step), loss_scale (the
/// scale this row counts at: run_scale or 1), multiplier (loss_scale x loss weight /
/// micro-batches), kind (activation | parameter), tensor, format (fp16 | bf16), values,
/// exact_zero, underflow, subnormal, normal, overflow, nonfinite (amp::RangeCounts' order).
///
/// Rows of kind `unscale` (at the run's scale only, tensor "fused step (read in fp32)" or
/// "in place (chapter 04's unscale_)") follow all parameter gradients once stored in the
/// 16-bit format at the multiplier, as `--grad-storage 16` stores them, through unscaling:
/// exact_zero counts those stored as 0, underflow those stored nonzero that unscaling
/// flushes to 0, normal those still nonzero after it, nonfinite those stored as inf or NaN
/// (subnormal and overflow are 0). The fused step multiplies by 1/scale in fp32 registers
/// and flushes none; the in-place unscale_ rounds the product back into the 16-bit type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/train/trainer.hpp"

namespace halfway::train {

class Telemetry {
 public:
  /// Opens (truncates) `csv_path` and builds the probe for the run `run` (whose training
  /// numbers are `train_numbers`). UsageError when `every` < 1 or when the path does not
  /// end in .csv.
  Telemetry(const std::string& csv_path, std::int64_t every, const TrainerOptions& run,
            const std::vector<int>& train_numbers);
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  /// True when step `step` is one to measure after: 0 (the initial weights) and every
  /// `every` steps.
  bool due(std::int64_t step) const { return step % every_ == 0; }
  /// Measures the gradients of `weights` (the trainer's weights in fp32, padding included)
  /// at loss scale `scale` and writes the rows of `step`.
  void measure(std::int64_t step, const std::vector<float>& weights, float scale);
  /// measure() with the trainer's weights and scale, when due.
  template <class S>
  void after_step(Trainer<S>& t) {
    if (due(t.steps_done())) measure(t.steps_done(), t.weights_host(), t.loss_scale());
  }
  /// Rows written so far.
  std::size_t rows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t every_;
};

}  // namespace halfway::train
