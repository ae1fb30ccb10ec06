/// @file sum_squares_block.cuh
/// @brief Chapter 06's exercise 06.1: one thread block's part of the global gradient norm,
/// for both of its passes (kernels/optim/grad_norm.cu).
///
/// Pass 1 (a grid of B blocks over the gradients, `square` true): thread t of block b
/// walks its elements grid-stride, i = b * blockDim.x + t, then + gridDim.x * blockDim.x,
/// and adds up v * v in double, v = the gradient loaded exactly (`layers::ld`, then
/// widened to double). Pass 2 (one block over the B partials, `square` false): the same
/// walk adds the partials themselves. Either way the block then combines its threads'
/// sums with the course's block reduction (`block_sum(value, scratch)`,
/// common/block_reduce.cuh: every thread of the block must call it) and returns the
/// block's total to every thread; the kernel decides which thread writes it where.
///
/// Why double: the square of a float is exact in double (24 + 24 significant bits fit in
/// 53), never overflows (3.4e38^2 = 1.2e77) and never underflows (the smallest float
/// subnormal squared, 2e-90, is a normal double). Only the additions round.
///
/// Why no atomics: a thread adds its values in index order, the block reduction has a
/// fixed order, and the kernel fixes B from n alone: the same bits in every run, on every
/// GPU and under every emulator thread order.
#pragma once

#include <cstdint>

#include "common/block_reduce.cuh"
#include "common/exercise.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::HALFWAY_KERNEL_NS {

/// The block's sum of x[i]^2 (square) or of x[i] (!square) over its grid-stride elements
/// i < n, in double, returned to every thread. T: float, half, bfloat16 or double.
/// `scratch` is the kernel's __shared__ double[kBlockReduceSlots].
template <class T>
__device__ double block_sum_of_squares(const T* x, std::int64_t n, bool square, double* scratch) {
  // BEGIN EXERCISE 06.1 (3 points): Sum of squares in double, one block's part and the combination
  // HINT: every thread calls block_sum, also a thread with no element (n small).
  double s = 0.0;
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const double v = double(layers::ld(x[i]));
    s += square ? v * v : v;
  }
  return block_sum(s, scratch);
  // END EXERCISE 06.1
}

}  // namespace halfway::HALFWAY_KERNEL_NS
