/// @file shard.hpp
/// @brief Chapter 08's exercise 08.2: the ZeRO-1 shard bounds.
///
/// N ranks split n values (the flat fp32 masters, Adam's moments, a reduce-scatter's
/// result) into N contiguous shards, rank r owning [begin, end). When N does not divide n
/// the first n % N ranks own one value more: the sizes differ by at most one, the shards
/// follow each other in rank order and cover [0, n) exactly. With n < N the last ranks own
/// nothing (begin == end). The caller has checked n >= 0, N >= 1 and 0 <= r < N.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/exercise.hpp"

namespace halfway::dist {

/// The values [begin, end) of n that rank `rank` of `ranks` owns.
struct ShardRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
};

inline ShardRange shard_range(std::int64_t n, int ranks, int rank) {
  // BEGIN EXERCISE 08.2 (2 points): ZeRO-1 shard bounds
  // HINT: each rank owns n / ranks values; the first n % ranks ranks own one more.
  const std::int64_t base = n / ranks, extra = n % ranks;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
  // END EXERCISE 08.2
}

}  // namespace halfway::dist
