/// @file block_sum_tree.cu
/// @brief A block reduction through a shared-memory tree.
///
/// Math: block_sums[j] = sum of x[i] over the i that block j's threads visit.
///
/// Each thread sums its grid-stride elements into a register, stores it in shared
/// memory, then the active half adds the other half, log2(blockDim.x) times, with a
/// barrier between steps (every thread must see the previous step's writes):
///
///     step s=4:  t0+=t4  t1+=t5  t2+=t6  t3+=t7
///     step s=2:  t0+=t2  t1+=t3
///     step s=1:  t0+=t1            -> block_sums[blockIdx.x] = partial[0]
#include "common/device.cuh"
#include "kernels/intro/intro.hpp"

namespace halfway::HALFWAY_KERNEL_NS {

__global__ void block_sum_tree_kernel(const float* __restrict__ x, int n, float* __restrict__ block_sums) {
  HALFWAY_DYNAMIC_SHARED(float, partial);  // blockDim.x floats
  float value = 0.0f;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) value += x[i];
  partial[threadIdx.x] = value;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) block_sums[blockIdx.x] = partial[0];
}

void block_sum_tree(const float* x, int n, float* block_sums, int blocks, int threads) {
  HALFWAY_EXPECT(threads > 0 && threads <= 1024 && (threads & (threads - 1)) == 0,
                 "threads per block a power of two in [1, 1024]", std::to_string(threads));
  HALFWAY_LAUNCH(block_sum_tree_kernel, blocks, threads, threads * sizeof(float), 0)(x, n, block_sums);
  HALFWAY_CUDA_CHECK(cudaGetLastError());  // no wait: the host's copy of the result waits
}

}  // namespace halfway::HALFWAY_KERNEL_NS
