// The global gradient norm on the device (API, math and mapping: grad_norm.hpp): pass 1
// writes one double per block, pass 2 combines them in one block and writes the float norm.
#include <cmath>

#include "common/device.cuh"
#include "06_clipping_warmup/sum_squares_block.cuh"
#include "kernels/optim/grad_norm.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = ::halfway::optim::kNormThreads;

template <class G>
__global__ void partials_kernel(const G* g, std::int64_t n, double* partials) {
  __shared__ double scratch[kBlockReduceSlots];
  const double s = block_sum_of_squares(g, n, true, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void combine_kernel(const double* partials, int count, float* norm) {
  __shared__ double scratch[kBlockReduceSlots];
  const double s = block_sum_of_squares(partials, count, false, scratch);
  if (threadIdx.x == 0) *norm = float(sqrt(s));  // sqrt and the rounding: both IEEE, exact as on the host
}

template <class G>
void launch_partials(const G* g, std::int64_t n, double* partials) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(partials_kernel<G>, unsigned(::halfway::optim::norm_blocks(n)), kThreads, 0, 0)(g, n, partials);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void grad_norm_partials(const float* g, std::int64_t n, double* partials) { launch_partials(g, n, partials); }
void grad_norm_partials(const half* g, std::int64_t n, double* partials) { launch_partials(g, n, partials); }
void grad_norm_partials(const bfloat16* g, std::int64_t n, double* partials) { launch_partials(g, n, partials); }

void grad_norm_combine(const double* partials, int count, float* norm) {
  HALFWAY_LAUNCH(combine_kernel, 1, kThreads, 0, 0)(partials, count, norm);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace halfway::HALFWAY_KERNEL_NS
