// A probe of common/block_reduce.cuh: what each thread of one block gets back.
#include "common/block_reduce.cuh"
#include "common/device.cuh"
#include "common/tests/block_reduce_kernels.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

template <class T>
__global__ void probe_kernel(const T* in, T* sums, T* maxes, T* sums2) {
  __shared__ T scratch[kBlockReduceSlots];
  const T v = in[threadIdx.x];
  sums[threadIdx.x] = block_sum(v, scratch);
  maxes[threadIdx.x] = block_max(v, scratch);
  sums2[threadIdx.x] = block_sum(T(2) * v, scratch);
}

template <class T>
void probe(const T* in, T* sums, T* maxes, T* sums2, int threads) {
  HALFWAY_EXPECT(threads % 32 == 0 && threads >= 32 && threads <= 1024, "whole warps, 32 to 1024 threads",
                 std::to_string(threads));
  HALFWAY_LAUNCH(probe_kernel<T>, 1, threads, 0, 0)(in, sums, maxes, sums2);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void block_reduce_probe(const float* in, float* sums, float* maxes, float* sums2, int threads) {
  probe(in, sums, maxes, sums2, threads);
}
void block_reduce_probe(const unsigned* in, unsigned* sums, unsigned* maxes, unsigned* sums2, int threads) {
  probe(in, sums, maxes, sums2, threads);
}

}  // namespace halfway::HALFWAY_KERNEL_NS
