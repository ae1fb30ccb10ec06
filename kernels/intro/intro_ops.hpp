/// @file intro_ops.hpp
/// @brief Chapter 00's ops on any backend: host vectors in, host vectors out.
///
/// Each op copies its inputs to the backend's memory, runs there (a host loop on `cpu`,
/// the kernel on `emu` or `cuda`) and copies the result back, so programs and tests can
/// compare backends with one call each.
#pragma once

#include <vector>

#include "common/backend.hpp"

namespace halfway::intro {

/// How many blocks of how many threads a kernel launches.
struct Launch {
  int blocks = 0;   ///< 0: enough blocks to give each element one thread (capped at 1024)
  int threads = 256;
};

/// c = a + b (exercise 00.1 on emu and cuda).
std::vector<float> vector_add(Backend backend, const std::vector<float>& a,
                              const std::vector<float>& b, Launch launch = {});

/// The reduction kernels of chapter 00.
enum class SumKernel { tree, shuffle };

/// Per-block sums of x as the chosen kernel computes them (on cpu: the same grid-stride
/// partition, summed by a host loop in the same order per thread, then per block).
std::vector<float> block_sums(Backend backend, SumKernel kernel, const std::vector<float>& x,
                              Launch launch);

/// y[t] = x[n-1-t] through shared memory, with or without the barrier (emu and cuda only).
std::vector<float> reverse_in_shared(Backend backend, const std::vector<float>& x, bool with_barrier);

/// Blocks for n elements at `threads` per block, at least 1 and at most 1024.
int blocks_for(int n, int threads);

}  // namespace halfway::intro
