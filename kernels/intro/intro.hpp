/// @file intro.hpp
/// @brief Chapter 00's kernels: vector add, block reductions, and the race demo.
///
/// Each function launches its kernel and checks the launch (cudaGetLastError); it does not
/// wait for the kernel: the copy of its result to the host does. Pointers are device memory: on
/// the `emu` backend that is host memory, on `cuda` it comes from cudaMalloc (see
/// halfway::Buf). Declared for both builds, halfway::emu and halfway::gpu.
#pragma once

#include "common/hd.hpp"

HALFWAY_KERNEL_API(
/// c[i] = a[i] + b[i] for i < n, by a grid-stride loop over `blocks` x `threads` threads
/// (exercise 00.1: solutions/00_gpu_model/vector_add.cu).
void vector_add(const float* a, const float* b, float* c, int n, int blocks, int threads);

/// block_sums[j] = the sum of the elements block j visits in a grid-stride loop, with a
/// shared-memory tree reduction (kernels/intro/block_sum_tree.cu). threads: a power of two.
void block_sum_tree(const float* x, int n, float* block_sums, int blocks, int threads);

/// The same sums with warp shuffles (exercise 00.2: solutions/00_gpu_model/block_sum_shuffle.cu).
/// threads: a multiple of 32, at most 1024.
void block_sum_shuffle(const float* x, int n, float* block_sums, int blocks, int threads);

/// One block of n threads reverses x into y through shared memory (n <= 1024).
/// With `with_barrier` false the kernel reads shared memory before the other threads
/// wrote it: the race demo (kernels/intro/race_demo.cu).
void reverse_in_shared(const float* x, float* y, int n, bool with_barrier);
)
