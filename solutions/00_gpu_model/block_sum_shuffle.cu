/// @file block_sum_shuffle.cu
/// @brief Exercise 00.2: a block reduction with warp shuffles.
///
/// Math: block_sums[j] = sum of x[i] over the i that block j's threads visit.
///
/// Two levels, one barrier:
///
///     32 lanes --shfl_down 16,8,4,2,1--> lane 0 holds its warp's sum
///     warp w's lane 0 writes partial[w]            (shared memory, up to 32 values)
///     __syncthreads()
///     warp 0 loads partial[lane] and reduces them with the same shuffles
///
/// Compared with the shared-memory tree (kernels/intro/block_sum_tree.cu), the first five
/// halving steps exchange registers inside a warp: no shared memory, no barrier.
#include "common/device.cuh"
#include "kernels/intro/intro.hpp"

namespace halfway::HALFWAY_KERNEL_NS {

/// The sum of `value` over the block, valid in thread 0. blockDim.x: a multiple of 32.
__device__ float block_sum_with_shuffles(float value) {
  // BEGIN EXERCISE 00.2 (3 points): Block reduction with warp shuffles
  // HINT: __shfl_down_sync(0xffffffff, v, offset) for offset = 16, 8, 4, 2, 1 sums a warp into lane 0.
  // HINT: lane 0 of each warp stores its sum in a __shared__ array; after a barrier warp 0 sums those.
  __shared__ float warp_sums[32];
  const int lane = threadIdx.x % warpSize;
  const int warp = threadIdx.x / warpSize;
  for (int offset = warpSize / 2; offset > 0; offset /= 2)
    value += __shfl_down_sync(0xffffffffu, value, offset);
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / warpSize;
    value = lane < warps ? warp_sums[lane] : 0.0f;
    for (int offset = warpSize / 2; offset > 0; offset /= 2)
      value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  return value;
  // END EXERCISE 00.2
}

__global__ void block_sum_shuffle_kernel(const float* __restrict__ x, int n,
                                         float* __restrict__ block_sums) {
  float value = 0.0f;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) value += x[i];
  value = block_sum_with_shuffles(value);
  if (threadIdx.x == 0) block_sums[blockIdx.x] = value;
}

void block_sum_shuffle(const float* x, int n, float* block_sums, int blocks, int threads) {
  HALFWAY_EXPECT(threads % 32 == 0 && threads > 0 && threads <= 1024,
                 "threads per block a multiple of 32 in [32, 1024]", std::to_string(threads));
  HALFWAY_LAUNCH(block_sum_shuffle_kernel, blocks, threads, 0, 0)(x, n, block_sums);
  HALFWAY_CUDA_CHECK(cudaGetLastError());  // no wait: the host's copy of the result waits
}

}  // namespace halfway::HALFWAY_KERNEL_NS
