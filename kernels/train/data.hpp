/// @file data.hpp
/// @brief The order in which a training run sees its numbers: a new seeded permutation of
/// the training split every epoch, cut into batches.
///
/// Everything is a pure function of (seed, micro-batch index): micro-batch k belongs to
/// epoch e = k / batches_per_epoch(), and epoch e's order is a Fisher-Yates shuffle driven
/// by the counter-based RNG (rng::bits(derive_seed(seed, e), i)). So the data order's
/// whole state is one integer, the count of micro-batches consumed: a checkpoint saves it
/// and a resumed run sees exactly the batches the straight run would have seen. The last
/// batch of an epoch is smaller when the split does not divide by the batch size: batches
/// never straddle two epochs, so every epoch shows every number once.
#pragma once

#include <cstdint>
#include <vector>

#include "common/batch.hpp"

namespace halfway::train {

class DataOrder {
 public:
  /// `numbers` in their given order (the split's); batch >= 1; at least one number.
  DataOrder(std::vector<int> numbers, int batch, std::uint64_t seed);

  std::int64_t batches_per_epoch() const { return per_epoch_; }
  std::int64_t size() const { return std::int64_t(numbers_.size()); }
  /// The numbers of micro-batch k (k >= 0): with a shard set, this rank's part of it.
  std::vector<int> batch(std::int64_t k);
  /// Data parallel (chapter 08): every rank walks the same seeded order, and batch(k) returns
  /// rank `rank`'s shard of the global micro-batch k (kernels/dist's shard_range).
  void set_shard(int rank, int ranks);
  /// The numbers of the whole global micro-batch k, every rank's share (the batch(k) of one
  /// process): each rank counts its tokens on the host for the token-weighted mean.
  std::vector<int> global_batch(std::int64_t k);
  /// Epoch e's permutation of the numbers.
  std::vector<int> epoch_order(std::int64_t e) const;

  /// Micro-batch k as the model reads it (task::make_batch): the one prepare(k) built, else
  /// built now. The trainer prepares micro-batch k + 1 after it has queued k's work, so the
  /// host builds the next batch while the device runs the current one.
  Batch take(std::int64_t k);
  /// Builds micro-batch k for a take(k) to come.
  void prepare(std::int64_t k);

 private:
  std::vector<int> numbers_;
  int batch_;
  std::uint64_t seed_;
  std::int64_t per_epoch_;
  std::int64_t cached_epoch_ = -1;
  std::vector<int> cached_;
  int rank_ = 0, ranks_ = 1;
  std::int64_t prepared_k_ = -1;
  Batch prepared_;
};

}  // namespace halfway::train
