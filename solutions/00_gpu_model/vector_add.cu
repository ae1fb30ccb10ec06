/// @file vector_add.cu
/// @brief Exercise 00.1: vector add with a grid-stride loop.
///
/// Math: c[i] = a[i] + b[i], 0 <= i < n.
///
/// Threads: the grid has G = gridDim.x * blockDim.x threads; thread t handles
/// i = t, t + G, t + 2G, ... so any grid covers any n, and consecutive threads of a warp
/// touch consecutive addresses (coalesced loads):
///
///     i:      0 1 2 ... G-1 | G G+1 ... 2G-1 | 2G ...
///     thread: 0 1 2 ... G-1 | 0  1  ...  G-1 | 0  ...
#include "common/device.cuh"
#include "kernels/intro/intro.hpp"

namespace halfway::HALFWAY_KERNEL_NS {

__global__ void vector_add_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                  float* __restrict__ c, int n) {
  // BEGIN EXERCISE 00.1 (2 points): Vector add with a grid-stride loop
  // HINT: start at this thread's global index; step by the number of threads in the grid.
  const int stride = gridDim.x * blockDim.x;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) c[i] = a[i] + b[i];
  // END EXERCISE 00.1
}

void vector_add(const float* a, const float* b, float* c, int n, int blocks, int threads) {
  HALFWAY_LAUNCH(vector_add_kernel, blocks, threads, 0, 0)(a, b, c, n);
  HALFWAY_CUDA_CHECK(cudaGetLastError());  // no wait: the host's copy of the result waits
}

}  // namespace halfway::HALFWAY_KERNEL_NS
