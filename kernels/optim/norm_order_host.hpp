/// @file norm_order_host.hpp
/// @brief The host's copy of the global norm's summation order (grad_norm.hpp): shared by
/// the norm's cpu backend (grad_norm_cpu.cpp) and the fused check+norm pass
/// (check_norm_cpu.cpp), so that both give the kernels' bits.
#pragma once

#include <cstdint>
#include <vector>

#include "common/parallel_ranges.hpp"
#include "kernels/optim/grad_norm.hpp"

namespace halfway::optim::detail {

/// common/block_reduce.cuh's order for one block of kNormThreads values: per warp the xor
/// butterfly (offsets 16, 8, 4, 2, 1: lane l adds lane l ^ off's value), then lane 0's
/// totals left to right. Lane 0's result needs only lanes 0..off-1 after each step, where
/// l ^ off = l + off: a halving tree of 31 additions per warp, the butterfly's very sums.
inline double block_sum_host(const double* v) {
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

/// Block b of a grid of `blocks` over x[0..n): each "thread" t sums its grid-stride values
/// (v = load(x[i]) squared, or v itself) from 0.0 in index order, then the block's order
/// above. The 256 sums are independent lanes: the full rows vectorise without reordering
/// any addition.
template <bool Square, class T, class Load>
double block_host(const T* x, std::int64_t n, int blocks, int b, Load load) {
  double acc[kNormThreads] = {};
  const std::int64_t stride = std::int64_t(blocks) * kNormThreads;
  std::int64_t base = std::int64_t(b) * kNormThreads;
  for (; base + kNormThreads <= n; base += stride) {
    const T* row = x + base;
    for (int t = 0; t < kNormThreads; ++t) {
      const double v = load(row[t]);
      acc[t] += Square ? v * v : v;
    }
  }
  for (int t = 0; base + t < n; ++t) {  // the last, partial row (if this block has one)
    const double v = load(x[base + t]);
    acc[t] += Square ? v * v : v;
  }
  return block_sum_host(acc);
}

/// Both passes: sum_i load(x[i])^2 in the kernels' order, in double (the norm is
/// float(sqrt(of it))).
template <class T, class Load>
double sum_of_squares_host(const T* x, std::int64_t n, Load load) {
  const int blocks = norm_blocks(n);
  std::vector<double> partials(std::size_t(blocks), 0.0);
  // Blocks are independent: any number of OpenMP threads gives the same partials.
#pragma omp parallel for schedule(static) if (worth_threads_elementwise(n))
  for (int b = 0; b < blocks; ++b) partials[std::size_t(b)] = block_host<true>(x, n, blocks, b, load);
  return block_host<false>(partials.data(), blocks, 1, 0, [](double v) { return v; });
}

}  // namespace halfway::optim::detail
