/// @file grid.hpp
/// @brief The grid of a grid-stride launch, the one rule every elementwise and row kernel
/// uses: one thread per item, up to a fixed number of threads in the grid.
///
/// The cap is 2^18 threads (1024 blocks of 256, 2048 of 128): about every thread a GPU of
/// the course's class holds at once (an A100: 108 SMs x 2048 = 221,184; an H100: 132 x
/// 2048 = 270,336). A larger grid only queues blocks behind the resident ones, so beyond
/// the cap each thread loops instead, and the launch stays the same size for any buffer.
/// The count depends on the number of items only, never on the device: kernels whose
/// result combines per-block values (the gradient norm's partial sums) keep the same bits
/// everywhere.
#pragma once

#include <algorithm>
#include <cstdint>

namespace halfway {

/// Threads of a grid-stride launch at most.
constexpr std::int64_t kMaxGridThreads = std::int64_t(1) << 18;

/// Blocks for `items` work items at `threads` per block: ceil(items / threads), at least 1,
/// at most kMaxGridThreads / threads.
constexpr unsigned grid_blocks(std::int64_t items, int threads) {
  const std::int64_t wanted = (items + threads - 1) / threads;
  return unsigned(std::clamp<std::int64_t>(wanted, 1, kMaxGridThreads / threads));
}

}  // namespace halfway
