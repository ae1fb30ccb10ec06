/// @file memory_report.hpp
/// @brief What a training run holds in memory, by use, read from the allocator
/// (common/device_memory.hpp's MemoryUse accounting): parameters (fp32 masters, none with
/// --master off or sr, and 16-bit working copies), gradients, optimizer state (Adam's m and v), activations (what the
/// model's forward pass allocates for its outputs and what backward reads, kept until the
/// next forward), forward workspace (the fp32 GEMM results a 16-bit linear layer rounds its
/// output from, on emu and cuda: the cpu GEMM adds the bias and rounds itself), backward (the logits' gradient, the activation gradients, backward's fp32
/// scratch) and other (the clip's and the scaler's workspaces).
///
/// It builds a Trainer, takes a few steps and reads how many bytes the live buffers hold
/// for each use, minus what they held before. The buffers only grow and the batches of a
/// run have nearly the same shape, so after a step or two the counts are the run's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/device_memory.hpp"
#include "kernels/train/trainer.hpp"

namespace halfway::train {

struct MemoryBreakdown {
  std::int64_t parameters = 0;                  ///< the model's parameter count
  std::array<long long, kMemoryUses> bytes{};   ///< held per MemoryUse (index: int(use)), from the allocator
  long long total = 0;                          ///< held in all, from the allocator
  /// The parameter store's own count of its buffers (chapter 03's StoreBytes: Buf::bytes()),
  /// for the split of `parameters` into masters and working copies (masters 0 with
  /// --master off or sr: their store keeps none).
  std::size_t store_masters = 0, store_working = 0, store_grads = 0;
  /// Adam's m and v as the store (or, with ZeRO-1, this rank's shard) holds them.
  std::size_t store_moments = 0;
  /// Data parallel (chapter 08): the rank these bytes are of, of how many. Every rank
  /// measures its own process; with ZeRO-1 its masters and moments are its shard's.
  int rank = 0, ranks = 1;
  long long of(MemoryUse u) const { return bytes[std::size_t(u)]; }
};

/// The run `o` in `precision` ("fp32", "fp16", "bf16") after `steps` steps (>= 1).
MemoryBreakdown measure_memory(const std::string& precision, const TrainerOptions& o, int steps = 2);

}  // namespace halfway::train
