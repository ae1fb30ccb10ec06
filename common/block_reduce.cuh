/// @file block_reduce.cuh
/// @brief The course's one block reduction: the sum or the max of one value per thread,
/// over a thread block, in a fixed order. Device code for both kernel builds (nvcc and the
/// emulator); include it after common/device.cuh, in a kernel file.
///
/// Every kernel that combines values across a block uses it (chapter 03's row kernels
/// through BlockTeam in kernels/layers/layers.cu, the casts' loss counters in
/// kernels/fp16/cast.cu). Chapter 00's shared-memory tree (kernels/intro/block_sum_tree.cu)
/// and exercise 00.2 are the teaching versions of the same idea.
///
/// The picture, for a block of 128 threads (4 warps); max is the same with max for +:
///
///        t0..t31        t32..t63       t64..t95       t96..t127
///          \ xor /        \ xor /        \ xor /        \ xor /       1. butterfly per warp
///          warp 0         warp 1         warp 2         warp 3
///             \______________\______________/______________/
///                       scratch[0..3] -> every thread              2. warp totals in order
///
/// 1. Within each warp, a butterfly of __shfl_xor_sync with offsets 16, 8, 4, 2, 1: lane l
///    combines its value with lane l ^ off's. After 5 steps every lane holds the warp's
///    total, the same bits in every lane (a + b == b + a in IEEE arithmetic, and both lanes
///    of a pair combine the same two values).
/// 2. Lane 0 of warp w writes it to scratch[w] (shared memory); after a barrier every thread
///    combines scratch[0], scratch[1], ..., scratch[warps - 1] left to right (a broadcast
///    read: one value per warp, no bank conflicts) and returns the block's total.
///
/// The order is fixed by the block size alone: every run, every GPU and the emulator give
/// the same bits (no atomics). It is not a serial loop's order, so a float sum differs from
/// the cpu's by a few roundings (chapter 03's tests derive the bound); integer sums and
/// maxima are exact in any order.
///
/// Rules: blockDim.x is a multiple of 32 (whole warps; at most 1024); every thread of the
/// block calls, the same number of times in the same order (there are barriers inside);
/// `scratch` is the kernel's `__shared__ T[kBlockReduceSlots]`. Back-to-back calls may share
/// one scratch: the first barrier of a call waits until the previous call's reads are done.
#pragma once

#include "common/device.cuh"

namespace halfway::HALFWAY_KERNEL_NS {

/// The scratch a block reduction needs: one value per warp of the largest block.
constexpr int kBlockReduceSlots = 32;

/// The two combinations. Max keeps `a` when b is not greater (NaN compares false).
struct SumOp {
  template <class T>
  __device__ static T apply(T a, T b) {
    return a + b;
  }
};
struct MaxOp {
  template <class T>
  __device__ static T apply(T a, T b) {
    return a > b ? a : b;
  }
};

/// Step 1 alone: the warp's total in every lane of a full warp.
template <class Op, class T>
__device__ T warp_reduce(T v) {
  for (int off = 16; off > 0; off >>= 1) v = Op::apply(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

/// Steps 1 and 2: the block's total in every thread.
template <class Op, class T>
__device__ T block_reduce(T v, T* scratch) {
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5, warps = int(blockDim.x) >> 5;
  v = warp_reduce<Op>(v);
  __syncthreads();  // the previous call's reads of scratch are done
  if (lane == 0) scratch[warp] = v;
  __syncthreads();  // every warp's total is in
  T r = scratch[0];
  for (int w = 1; w < warps; ++w) r = Op::apply(r, scratch[w]);
  return r;
}

/// The sum and the max of one value per thread, returned to every thread of the block.
template <class T>
__device__ T block_sum(T v, T* scratch) {
  return block_reduce<SumOp>(v, scratch);
}
template <class T>
__device__ T block_max(T v, T* scratch) {
  return block_reduce<MaxOp>(v, scratch);
}

}  // namespace halfway::HALFWAY_KERNEL_NS
