// The fused check+norm pass on the device (API, math and mapping: check_norm.hpp): pass 1
// is grad_norm.cu's first pass on u = ld(g) * inv_scale with the overflow flag beside it;
// pass 2 combines the partials in one block as grad_norm.cu's second pass and writes the
// step's words.
#include <cmath>

#include "common/device.cuh"
#include "06_clipping_warmup/sum_squares_block.cuh"
#include "kernels/optim/check_norm.hpp"
#include "kernels/optim/grad_norm.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = ::halfway::optim::kNormThreads;

template <class G>
__global__ void partials_kernel(const G* g, std::int64_t n, const float* inv_scale, unsigned* found_inf,
                                double* partials) {
  __shared__ double sums[kBlockReduceSlots];
  __shared__ unsigned flags[kBlockReduceSlots];
  const float inv = *inv_scale;  // a device word: one broadcast read
  double s = 0.0;
  unsigned nonfinite_seen = 0;    // OR of the elements' exponent tests
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float stored = layers::ld(g[i]);
    nonfinite_seen |= unsigned((float_to_bits(stored) & 0x7f800000u) == 0x7f800000u);
    const double u = double(stored * inv);  // rounded to fp32 first, as the in-place unscale stores it
    s += u * u;
  }
  s = block_sum(s, sums);
  nonfinite_seen = block_max(nonfinite_seen, flags);
  if (threadIdx.x == 0) {
    partials[blockIdx.x] = s;
    if (nonfinite_seen != 0) atomicOr(found_inf, 1u);
  }
}

__global__ void finish_kernel(const double* partials, int count, const unsigned* found_inf,
                              ::halfway::optim::StepRule rule, ::halfway::optim::StepWords* words) {
  __shared__ double scratch[kBlockReduceSlots];
  const double s = block_sum_of_squares(partials, count, false, scratch);  // grad_norm.cu's second pass
  if (threadIdx.x == 0) *words = ::halfway::optim::finish_step(s, *found_inf, rule);
}

template <class G>
void launch_partials(const G* g, std::int64_t n, const float* inv_scale, unsigned* found_inf, double* partials) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(partials_kernel<G>, unsigned(::halfway::optim::norm_blocks(n)), kThreads, 0, 0)(
      g, n, inv_scale, found_inf, partials);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void check_norm_partials(const float* g, std::int64_t n, const float* inv, unsigned* f, double* p) {
  launch_partials(g, n, inv, f, p);
}
void check_norm_partials(const half* g, std::int64_t n, const float* inv, unsigned* f, double* p) {
  launch_partials(g, n, inv, f, p);
}
void check_norm_partials(const bfloat16* g, std::int64_t n, const float* inv, unsigned* f, double* p) {
  launch_partials(g, n, inv, f, p);
}

void check_norm_finish(const double* partials, int count, const unsigned* found_inf, ::halfway::optim::StepRule rule,
                       ::halfway::optim::StepWords* words) {
  HALFWAY_LAUNCH(finish_kernel, 1, kThreads, 0, 0)(partials, count, found_inf, rule, words);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace halfway::HALFWAY_KERNEL_NS
