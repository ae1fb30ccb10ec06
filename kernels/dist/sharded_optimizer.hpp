/// @file sharded_optimizer.hpp
/// @brief ZeRO-1 (chapter 08, halfway-train --shard-optimizer): each of N ranks owns one
/// shard of the flat fp32 masters and of Adam's two moments, shard_range(n, N, rank)
/// (exercise 08.2), and updates only that shard.
///
/// One step, after the backward (the trainer, kernels/train/trainer.cpp):
///
///     reduce_scatter(grads)      grads[begin, end) = the sum over the ranks (the loss weight
///                                1/N makes it the average); the rest of the buffer is stale
///     check_and_norm(shard)      found_inf and the norm of this rank's shard only
///     agree(words)               found_inf: max over the ranks (exercise 08.3); the norm:
///                                sqrt of the sum of the shards' squared norms, in rank
///                                order, in double: the same bits on every rank. Clip
///                                coefficient and skip follow (check_norm.hpp's finish_step),
///                                and the scaler's found_inf is the consensus: every rank
///                                skips together and its loss scale moves the same way
///     adam_step(shard)           the fused optimizer on [begin, end) of every buffer
///     gather_working(working)    every rank's updated working copies to every rank
///
/// The gradient and working-copy buffers stay full size on every rank (the forward and the
/// backward need every weight; sharding them too is ZeRO-2 and -3). Buffers are host memory:
/// the cpu and emu backends (the trainer refuses cuda).
///
/// What stays bit-identical with the unsharded step: the gradient sum for N = 2 (a + b in
/// any order); the update of each element (the same fused element function on the same
/// inputs) whenever the clip coefficient is the same. The norm is not: the shards' squares
/// are summed in another order than grad_norm's blocks (a relative difference of a few
/// 1e-16 in the double sum, then rounded to float), so where the clip binds the coefficient
/// may differ in its last bit.
#pragma once

#include <cstdint>
#include <vector>

#include "08_data_parallel/shard.hpp"
#include "common/device_memory.hpp"
#include "kernels/amp/device_scaler.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/dist/communicator.hpp"
#include "kernels/optim/check_norm.hpp"

namespace halfway::dist {

class ShardedOptimizer {
 public:
  /// This rank's shard of n parameters over `comm` (which must outlive this), buffers on
  /// `backend` (cpu or emu: Error otherwise). `found_inf_consensus` false is chapter 08's
  /// ablation only (ch08_no_consensus): agree() then takes this rank's shard alone, found_inf
  /// and the norm (the norms' all-gather alone would carry an inf to every rank too).
  ShardedOptimizer(Communicator& comm, Backend backend, std::int64_t n, bool found_inf_consensus = true);

  const ShardRange& range() const { return range_; }
  Communicator& comm() { return comm_; }

  /// Takes this rank's shard of the full fp32 masters `all` (n values, the backend's
  /// memory): the caller may then free its full copy.
  void own_masters(const float* all);
  /// This rank's masters (range().size() values), null before own_masters().
  float* masters() { return masters_.data(); }
  /// Allocates this rank's shard of Adam's moments (zero) on the first call.
  void ensure_moments();
  bool has_moments() const { return m_.data() != nullptr; }
  float* moment_m() { return m_.data(); }
  float* moment_v() { return v_.data(); }
  /// Bytes held here: the masters' shard and the two moments' shards.
  std::size_t master_bytes() const { return masters_.bytes(); }
  std::size_t moment_bytes() const { return m_.bytes() + v_.bytes(); }

  /// In place: grads[begin, end) becomes the sum over the ranks of the gradients (fp32
  /// gradients directly; 16-bit ones widened to fp32 for the wire and rounded back once).
  void reduce_scatter(const amp::GradBuffer& grads);
  /// This rank's shard of `grads` (a view).
  amp::GradBuffer shard_of(const amp::GradBuffer& grads) const;
  /// The step words of the whole model from those of this rank's shard (above); `rule` is
  /// the step's (optim::fused_rule). Waits for the backend's queued work.
  void agree(optim::StepWords* words, amp::ScalerWords* scaler, const optim::StepRule& rule);
  /// Every rank's shard of the n working copies (of `type`) to every rank, in place.
  void gather_working(void* working, DType type);

  /// The full n values of a sharded buffer (this rank's `shard`), on every rank (host).
  std::vector<float> gather_host(const float* shard);
  /// This rank's shard of the full n host values `all` into `shard` (backend memory).
  void scatter_host(const std::vector<float>& all, float* shard) const;

 private:
  Communicator& comm_;
  Backend backend_;
  std::int64_t n_;
  ShardRange range_;
  bool consensus_;
  Buf<float> masters_, m_, v_;
  std::vector<float> wide_, part_;  // the reduce-scatter's fp32 buffers, kept between steps
};

}  // namespace halfway::dist
