#include "kernels/train/data.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "08_data_parallel/shard.hpp"
#include "common/error.hpp"
#include "common/number_words.hpp"
#include "common/rng.hpp"

namespace halfway::train {

DataOrder::DataOrder(std::vector<int> numbers, int batch, std::uint64_t seed)
    : numbers_(std::move(numbers)), batch_(batch), seed_(seed) {
  HALFWAY_EXPECT(batch_ >= 1, "a batch size >= 1", std::to_string(batch_));
  HALFWAY_EXPECT(!numbers_.empty(), "at least one training number", "none");
  per_epoch_ = (size() + batch_ - 1) / batch_;
}

std::vector<int> DataOrder::epoch_order(std::int64_t e) const {
  std::vector<int> v = numbers_;
  const std::uint64_t s = rng::derive_seed(seed_, std::uint64_t(e));
  // Fisher-Yates from the end; bits % (i + 1) has a bias below (i + 1) / 2^32 (< 3e-7
  // here): irrelevant for a data order, and it keeps the order a function of the seed alone.
  for (std::size_t i = v.size() - 1; i > 0; --i)
    std::swap(v[i], v[rng::bits(s, i) % (i + 1)]);
  return v;
}

std::vector<int> DataOrder::global_batch(std::int64_t k) {
  HALFWAY_EXPECT(k >= 0, "a micro-batch index >= 0", std::to_string(k));
  const std::int64_t e = k / per_epoch_, j = k % per_epoch_;
  if (e != cached_epoch_) {
    cached_ = epoch_order(e);
    cached_epoch_ = e;
  }
  const std::int64_t lo = j * batch_, hi = std::min<std::int64_t>(lo + batch_, size());
  return {cached_.begin() + lo, cached_.begin() + hi};
}

std::vector<int> DataOrder::batch(std::int64_t k) {
  std::vector<int> all = global_batch(k);
  if (ranks_ == 1) return all;  // one process: exercise 08.2 not needed
  const auto n = std::int64_t(all.size());
  const dist::ShardRange mine = dist::shard_range(n, ranks_, rank_);
  HALFWAY_EXPECT(mine.size() > 0, "a share of micro-batch " + std::to_string(k) + " for rank " + std::to_string(rank_) +
                 " (a batch of at least as many numbers as ranks)", std::to_string(n) + " numbers for " +
                 std::to_string(ranks_) + " ranks");
  return {all.begin() + mine.begin, all.begin() + mine.end};
}

void DataOrder::set_shard(int rank, int ranks) {
  HALFWAY_EXPECT(ranks >= 1 && rank >= 0 && rank < ranks, "0 <= rank < ranks", std::to_string(rank) + " of " + std::to_string(ranks));
  rank_ = rank;
  ranks_ = ranks;
}

void DataOrder::prepare(std::int64_t k) {
  prepared_ = task::make_batch(batch(k));
  prepared_k_ = k;
}

Batch DataOrder::take(std::int64_t k) {
  if (prepared_k_ != k) prepare(k);
  prepared_k_ = -1;
  return std::move(prepared_);
}

}  // namespace halfway::train
