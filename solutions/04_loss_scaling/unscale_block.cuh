/// @file unscale_block.cuh
/// @brief Chapter 04's exercise 04.2: one thread block's part of unscale-and-check.
///
/// The kernel (kernels/amp/unscale.cu) launches a grid of blocks over the whole gradient
/// buffer; every block runs this function. Each thread walks its elements grid-stride
/// (i = blockIdx.x * blockDim.x + threadIdx.x, then + gridDim.x * blockDim.x ...):
///
///   - load g[i] exactly into fp32 (`layers::ld`), remember whether it is inf or NaN,
///   - store g[i] * inv_scale rounded back to G (`layers::st<G>`), even when it is not
///     finite (PyTorch unscales every gradient and decides afterwards);
///
/// then the block combines its threads' flags with the course's block reduction
/// (`block_max(value, scratch)`, common/block_reduce.cuh: every thread of the block must
/// call it) and ONE thread per block raises the global flag with `atomicOr(flag, 1u)` when
/// the block saw a non-finite value. The flag is an OR: any order of blocks gives the
/// same answer, so the atomic keeps the result deterministic.
///
/// inf and NaN are the floats whose exponent bits are all ones:
/// `(float_to_bits(v) & 0x7f800000u) == 0x7f800000u` (kernels/fp16/bits.hpp).
#pragma once

#include <cstdint>

#include "common/block_reduce.cuh"
#include "common/exercise.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::HALFWAY_KERNEL_NS {

/// `scratch` is the kernel's __shared__ unsigned[kBlockReduceSlots].
template <class G>
__device__ void unscale_block(G* g, std::int64_t n, float inv_scale, unsigned* flag, unsigned* scratch) {
  // BEGIN EXERCISE 04.2 (3 points): Unscale and check, one block's part
  // HINT: every thread calls block_max, also a thread with no element (n small).
  unsigned bad = 0;
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = layers::ld(g[i]);
    if ((float_to_bits(v) & 0x7f800000u) == 0x7f800000u) bad = 1;
    g[i] = layers::st<G>(v * inv_scale);
  }
  bad = block_max(bad, scratch);
  if (threadIdx.x == 0 && bad != 0) atomicOr(flag, 1u);
  // END EXERCISE 04.2
}

}  // namespace halfway::HALFWAY_KERNEL_NS
