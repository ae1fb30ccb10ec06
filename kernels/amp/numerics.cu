// Numerics telemetry on the device (API: numerics.hpp): the six range classes of a tensor
// stored in fp16 or bf16 at a loss scale, counted in one launch.
//
// Mapping: a grid-stride loop (element i -> thread i mod (256 G), G = grid_blocks(n, 256)), each
// thread keeps six private counts; the block sums each count with the course's block
// reduction (common/block_reduce.cuh, six calls sharing one scratch), then thread 0 adds
// the block's six totals to the global counters with atomicAdd. Integer sums are exact in
// any order, so the result does not depend on the order of blocks.
#include <algorithm>

#include "common/block_reduce.cuh"
#include "common/device.cuh"
#include "common/grid.hpp"
#include "kernels/amp/numerics.hpp"
#include "kernels/amp/range_class.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;
constexpr int kClasses = ::halfway::amp::RangeCounts::kClasses;

template <class T>
__global__ void count_ranges_kernel(const T* x, std::int64_t n, bool to_bf16, float scale, unsigned long long* counts) {
  __shared__ unsigned long long scratch[kBlockReduceSlots];
  unsigned long long mine[kClasses] = {0, 0, 0, 0, 0, 0};
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    ++mine[::halfway::amp::range_class(::halfway::layers::ld(x[i]), to_bf16, scale)];
  for (int k = 0; k < kClasses; ++k) {
    const unsigned long long total = block_sum(mine[k], scratch);
    if (threadIdx.x == 0 && total != 0) atomicAdd(&counts[k], total);
  }
}

template <class T>
void launch(const T* x, std::int64_t n, bool to_bf16, float scale, unsigned long long* counts) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(count_ranges_kernel<T>, grid_blocks(n, kThreads), kThreads, 0, 0)(x, n, to_bf16, scale, counts);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void count_ranges(const float* x, std::int64_t n, bool to_bf16, float scale, unsigned long long* counts) {
  launch(x, n, to_bf16, scale, counts);
}
void count_ranges(const ::halfway::half* x, std::int64_t n, bool to_bf16, float scale, unsigned long long* counts) {
  launch(x, n, to_bf16, scale, counts);
}
void count_ranges(const ::halfway::bfloat16* x, std::int64_t n, bool to_bf16, float scale, unsigned long long* counts) {
  launch(x, n, to_bf16, scale, counts);
}

}  // namespace halfway::HALFWAY_KERNEL_NS
