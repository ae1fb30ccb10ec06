/// @file race_demo.cu
/// @brief The race demo: reversing an array through shared memory, with and without a barrier.
///
/// Math: y[t] = x[n - 1 - t] for one block of n threads.
///
///     thread t:  tile[t] = x[t]          (write)
///                -- __syncthreads() --   (every write is visible after it)
///                y[t] = tile[n - 1 - t]  (read another thread's element)
///
/// Without the barrier, thread t may read tile[n-1-t] before thread n-1-t wrote it. On a
/// GPU the result often happens to be right (the writes of a warp land together); in the
/// emulator it depends on the thread order; the tsan preset reports the race either way,
/// with the two source lines marked below.
#include "common/device.cuh"
#include "kernels/intro/intro.hpp"

namespace halfway::HALFWAY_KERNEL_NS {

__global__ void reverse_racy_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
  __shared__ float tile[1024];
  const int t = threadIdx.x;
  tile[t] = x[t];  // race: write
  y[t] = tile[n - 1 - t];  // race: read
}

__global__ void reverse_fixed_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
  __shared__ float tile[1024];
  const int t = threadIdx.x;
  tile[t] = x[t];
  __syncthreads();
  y[t] = tile[n - 1 - t];
}

void reverse_in_shared(const float* x, float* y, int n, bool with_barrier) {
  HALFWAY_EXPECT(n >= 1 && n <= 1024, "n in [1, 1024] (one block)", std::to_string(n));
  if (with_barrier) {
    HALFWAY_LAUNCH(reverse_fixed_kernel, 1, n, 0, 0)(x, y, n);
  } else {
    HALFWAY_LAUNCH(reverse_racy_kernel, 1, n, 0, 0)(x, y, n);
  }
  HALFWAY_CUDA_CHECK(cudaGetLastError());  // no wait: the host's copy of the result waits
}

}  // namespace halfway::HALFWAY_KERNEL_NS
