/// @file ring_all_reduce.hpp
/// @brief Chapter 08's exercise 08.1: ring all-reduce from point-to-point messages.
///
/// The algorithm NCCL uses for large messages. The N ranks form a ring (rank r sends to
/// r + 1 and receives from r - 1, mod N) and the n values are cut into N chunks, chunk c
/// being shard_range(n, N, c) (exercise 08.2).
///
/// 1. Reduce-scatter, N - 1 steps. At step s (0, 1, ...) rank r sends chunk r - s - 1 and
///    receives chunk r - s - 2, which it adds to its own. A chunk's partial sum travels
///    round the ring gaining one rank per step; after the last step rank r holds the
///    complete sum of chunk r.
/// 2. All-gather, N - 1 steps. At step s rank r sends chunk r - s (complete) and receives
///    chunk r - s - 1 (complete), which replaces its own.
///
/// Each rank sends 2 (N - 1) chunks of about n / N values: 2 (N - 1) / N x the buffer,
/// nearly independent of N, which is why the ring is bandwidth-optimal. Every rank ends
/// with the same bits (the complete chunks are copied, not re-added).
#pragma once

#include <cstdint>
#include <vector>

#include "08_data_parallel/shard.hpp"
#include "common/exercise.hpp"
#include "kernels/dist/communicator.hpp"

namespace halfway::dist {

/// In place: `data` (n floats in host memory, the same n on every rank) becomes the sum
/// over the ranks. `scratch` receives the incoming chunks (resized here, kept by the
/// caller so that repeated calls allocate nothing).
inline void ring_all_reduce(Communicator& comm, float* data, std::int64_t n, std::vector<float>& scratch) {
  // BEGIN EXERCISE 08.1 (4 points): Ring all-reduce: reduce-scatter then all-gather
  // HINT: chunk c (taken mod N, kept non-negative) is shard_range(n, N, c).
  // HINT: comm.send_recv(send, send_n, right, recv, recv_n, left) does one step's exchange.
  const int ranks = comm.size(), r = comm.rank();
  const int right = (r + 1) % ranks, left = (r + ranks - 1) % ranks;
  auto chunk = [&](int c) { return shard_range(n, ranks, ((c % ranks) + ranks) % ranks); };
  scratch.resize(std::size_t(n / ranks + 1));
  for (int s = 0; s < ranks - 1; ++s) {
    const ShardRange out = chunk(r - s - 1), in = chunk(r - s - 2);
    comm.send_recv(data + out.begin, out.size(), right, scratch.data(), in.size(), left);
    for (std::int64_t i = 0; i < in.size(); ++i) data[in.begin + i] += scratch[std::size_t(i)];
  }
  for (int s = 0; s < ranks - 1; ++s) {
    const ShardRange out = chunk(r - s), in = chunk(r - s - 1);
    comm.send_recv(data + out.begin, out.size(), right, data + in.begin, in.size(), left);
  }
  // END EXERCISE 08.1
}

}  // namespace halfway::dist
