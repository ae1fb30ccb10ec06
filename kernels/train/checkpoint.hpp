/// @file checkpoint.hpp
/// @brief A trainer's checkpoint (Trainer::save() and load()): a folder with `trainer.json`
/// (the run's options and counters, the scaler's state, and the name, size and FNV-1a
/// checksum of the tensor file) and `state-<step>-<checksum>.safetensors` (the weights in
/// the run's precision, the fp32 masters, Adam's moments), each written atomically
/// (checkpoint_io.hpp).
///
/// Loading checks everything before it changes anything: the format, every counter's range,
/// the shape, precision, master mode, gradient storage and data order of the run, the tensor
/// file's size and checksum, the safetensors layout (common/safetensors.hpp), and every
/// tensor the run needs (the moments of every parameter once Adam has stepped).
#pragma once

#include <cstdint>
#include <string>

#include "kernels/layers/modules.hpp"

namespace halfway::train {

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
