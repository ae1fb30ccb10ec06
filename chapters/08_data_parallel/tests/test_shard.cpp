// Exercise 08.2: the ZeRO-1 shard bounds. Pure arithmetic: no communicator needed.
#include <doctest/doctest.h>

#include <cstdint>

#include "08_data_parallel/shard.hpp"

using namespace halfway::dist;

TEST_CASE("shard bounds: the shards follow each other and cover 0 to n exactly [ex08.2]") {
  for (int ranks = 1; ranks <= 9; ++ranks)
    for (std::int64_t n = 0; n <= 40; ++n) {
      CAPTURE(ranks);
      CAPTURE(n);
      std::int64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const ShardRange s = shard_range(n, ranks, r);
        CHECK(s.begin == next);
        CHECK(s.end >= s.begin);
        next = s.end;
      }
      CHECK(next == n);
    }
}

TEST_CASE("shard bounds: the first n mod N ranks own one value more [ex08.2]") {
  for (int ranks = 1; ranks <= 9; ++ranks)
    for (std::int64_t n = 0; n <= 40; ++n)
      for (int r = 0; r < ranks; ++r) {
        CAPTURE(ranks);
        CAPTURE(n);
        CAPTURE(r);
        CHECK(shard_range(n, ranks, r).size() == n / ranks + (r < n % ranks ? 1 : 0));
      }
}

TEST_CASE("shard bounds: fewer values than ranks leaves the last ranks empty [ex08.2]") {
  CHECK(shard_range(2, 3, 0).begin == 0);
  CHECK(shard_range(2, 3, 0).end == 1);
  CHECK(shard_range(2, 3, 1).begin == 1);
  CHECK(shard_range(2, 3, 1).end == 2);
  CHECK(shard_range(2, 3, 2).begin == 2);
  CHECK(shard_range(2, 3, 2).end == 2);
  CHECK(shard_range(0, 4, 3).size() == 0);
}

TEST_CASE("shard bounds: a 7B-parameter model over 3 ranks needs 64-bit bounds [ex08.2]") {
  const std::int64_t n = 7'000'000'001;  // 3 x 2'333'333'333 + 2
  CHECK(shard_range(n, 3, 0).begin == 0);
  CHECK(shard_range(n, 3, 0).end == 2'333'333'334);
  CHECK(shard_range(n, 3, 1).end == 4'666'666'668);
  CHECK(shard_range(n, 3, 2).begin == 4'666'666'668);
  CHECK(shard_range(n, 3, 2).end == n);
}
