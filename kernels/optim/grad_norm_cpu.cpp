// The global norm's host side (grad_norm.hpp): the dispatch, and the cpu backend, which
// runs the kernels' exact order on the host so that cpu, emu and cuda give the same bits.
#include <cmath>
#include <vector>

#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/fp16/dtype_switch.hpp"
#include "kernels/optim/grad_norm.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::optim {
namespace {

// common/block_reduce.cuh's order for one block of kNormThreads values: per warp the xor
// butterfly (offsets 16, 8, 4, 2, 1: lane l adds lane l ^ off's value), then lane 0's
// totals left to right. Lane 0's result needs only lanes 0..off-1 after each step, where
// l ^ off = l + off: a halving tree of 31 additions per warp, the butterfly's very sums.
double block_sum_host(const double* v) {
  double total = 0.0;
  for (int w = 0; w < kNormThreads / 32; ++w) {
    double lane[32];
    for (int l = 0; l < 32; ++l) lane[l] = v[w * 32 + l];
    for (int off = 16; off > 0; off >>= 1)
      for (int l = 0; l < off; ++l) lane[l] = lane[l] + lane[l + off];
    total = w == 0 ? lane[0] : total + lane[0];
  }
  return total;
}

// Block b of a grid of `blocks` over x[0..n): each "thread" t sums its grid-stride values
// (squared or not) from 0.0 in index order, then the block's order above. The 256 sums
// are independent lanes: the full rows vectorise without reordering any addition.
template <bool Square, class T>
double block_host(const T* x, std::int64_t n, int blocks, int b) {
  double acc[kNormThreads] = {};
  const std::int64_t stride = std::int64_t(blocks) * kNormThreads;
  std::int64_t base = std::int64_t(b) * kNormThreads;
  for (; base + kNormThreads <= n; base += stride) {
    const T* row = x + base;
    for (int t = 0; t < kNormThreads; ++t) {
      const double v = double(layers::ld(row[t]));
      acc[t] += Square ? v * v : v;
    }
  }
  for (int t = 0; base + t < n; ++t) {  // the last, partial row (if this block has one)
    const double v = double(layers::ld(x[base + t]));
    acc[t] += Square ? v * v : v;
  }
  return block_sum_host(acc);
}

template <class G>
float norm_host(const G* g, std::int64_t n) {
  const int blocks = norm_blocks(n);
  std::vector<double> partials(std::size_t(blocks), 0.0);
  // Blocks are independent: any number of OpenMP threads gives the same partials.
#pragma omp parallel for schedule(static) if (worth_threads(n))
  for (int b = 0; b < blocks; ++b) partials[std::size_t(b)] = block_host<true>(g, n, blocks, b);
  return float(std::sqrt(block_host<false>(partials.data(), blocks, 1, 0)));
}

}  // namespace

namespace detail {

float global_norm_host(const GradBuffer& grads) {
  return with_typed(grads.dtype, static_cast<const void*>(grads.data),
                    [&](const auto* g) { return norm_host(g, grads.count); });
}

void launch_global_norm(const GradBuffer& grads, NormWorkspace& ws) {
  const Backend b = grads.backend;
  const std::int64_t n = grads.count;
  double* partials = ws.partials.get(kNormMaxBlocks, b);
  float* norm = ws.norm.get(1, b);
  with_typed(grads.dtype, static_cast<const void*>(grads.data),
             [&](const auto* g) { HALFWAY_KERNEL(b, grad_norm_partials(g, n, partials)); });
  HALFWAY_KERNEL(b, grad_norm_combine(partials, norm_blocks(n), norm));
}

}  // namespace detail

float global_norm(const GradBuffer& grads, NormWorkspace& ws) {
  HALFWAY_EXPECT(grads.count >= 0, "a gradient count >= 0", std::to_string(grads.count));
  if (grads.count == 0) return 0.0f;
  HALFWAY_EXPECT(grads.data != nullptr, "a gradient buffer", "a null pointer");
  if (grads.backend == Backend::cpu) return detail::global_norm_host(grads);
  detail::launch_global_norm(grads, ws);
  float norm = 0.0f;
  copy_out(grads.backend, &norm, ws.norm.data(), sizeof norm);  // waits for both launches
  return norm;
}

}  // namespace halfway::optim
