// The test kernel of common/block_reduce.cuh (block_reduce_kernels.cu), for both builds.
#pragma once

#include "common/hd.hpp"

HALFWAY_KERNEL_API(
/// One block of `threads` threads; thread t reads in[t] and writes what block_sum, then
/// block_max, then block_sum of 2 * in[t] returned to it (back-to-back calls on one
/// scratch) into sums[t], maxes[t], sums2[t]. Device pointers, `threads` elements each.
void block_reduce_probe(const float* in, float* sums, float* maxes, float* sums2, int threads);
void block_reduce_probe(const unsigned* in, unsigned* sums, unsigned* maxes, unsigned* sums2, int threads);
)
