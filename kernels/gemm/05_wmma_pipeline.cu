// Kernel 5 of the GEMM ladder: a multi-stage cp.async pipeline (sm_80 and later).
//
// What it adds over kernel 4: in kernel 4 a warp loads a tile, waits at the barrier, then
// computes, then waits again: its tensor cores idle during every load and the memory
// system idles during every computation. Here the tiles of the next STAGES-1 k-steps are
// already in flight while the current one is computed.
// - cp.async (`__pipeline_memcpy_async(dst_shared, src_global, 16)`) copies 16 bytes from
//   global to shared memory without going through registers and without blocking the
//   thread; `__pipeline_commit()` closes a group of such copies, and
//   `__pipeline_wait_prior(n)` waits until at most n groups are still in flight.
// - Shared memory holds kStages copies of the A and B tiles, used round-robin: stage
//   s = kt % kStages for k-step kt. 3 stages of (128x40 + 32x136) halves need ~56 KiB,
//   over the 48 KiB of static shared memory: the buffer is dynamic, and the launch raises
//   the kernel's limit with cudaFuncSetAttribute.
//
// Math: the same 64 flop/byte as kernel 4; what changes is latency hiding. A k-step of a
// block is 1 Mflop, ~140 ns of an H200 SM's ~7.5 TFLOP/s of tensor-core math, while a
// load from HBM takes ~0.5 us: an SM needs the loads of 3-4 k-steps in flight to never
// wait. The pipeline gives STAGES-1 = 2 per block, and 2 blocks fit on an SM.
//
// Timeline (one block, 3 stages; L = loads in flight, C = computing):
//   prologue:  L0 L1
//   kt = 0:    wait(L0)  issue L2  C0
//   kt = 1:    wait(L1)  issue L3  C1        stage of L3 = stage of L0, freed by C0
//   kt = 2:    wait(L2)  issue L4  C2
// One __syncthreads per k-step does double duty: after it, stage kt is complete for every
// thread (each waited for its own copies), and stage kt-1 has been read by every warp,
// so it may be refilled.
//
// Tiles and warps as in kernel 4: 128x128x32 block tile, 8 warps of 64x32, and the same
// warp tile: each warp computes its share of a stage with kernel 4's warp_tile_mma
// (exercise 02.2, included from the linked implementation folder). Only the way the
// tiles reach shared memory changes, so the benchmark's 4 -> 5 step measures the
// pipeline alone (and with 02.2 unsolved, kernel 5 fails like kernel 4).
#include "02_gemm/04_warp_tile.cuh"
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace {

using namespace block_tile;  // kernel 4's tiles and warp_tile_mma (02_gemm/04_warp_tile.cuh)
constexpr int kStages = 3;

template <class T, bool TA, bool TB>
using Pipeline = StagePipeline<TileGeometry<kBM, kBN, kBK, TA, TB>, kStages, kThreads, T>;

template <class T, bool TA, bool TB>
constexpr int smem_bytes() {
  return Pipeline<T, TA, TB>::kBytes + kWarpsM * kWarpsN * kScratchFloats * int(sizeof(float)) + kSmemAlignSlack;
}

template <class T, bool TA, bool TB>
__global__ void __launch_bounds__(kThreads) gemm_wmma_pipeline_kernel(const GemmArgs g) {
  HALFWAY_DYNAMIC_SHARED(unsigned char, smem_base);
  unsigned char* const smem = align128(smem_base);  // WMMA wants 32-byte aligned tiles

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int warp_m = warp / kWarpsN, warp_n = warp % kWarpsN;
  const int z = blockIdx.z, m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const int k_steps = (g.k + kBK - 1) / kBK;
  // kStages A and B tiles, then the epilogue's scratch. pipe.issue(kt) starts the copies
  // of k-step kt into stage kt % kStages and commits them as one group; every thread
  // commits a group per call, even an empty one past the last k-step, so that "wait until
  // <= kStages-2 groups are pending" always means "the group of k-step kt has landed".
  const Pipeline<T, TA, TB> pipe(smem, g, z, m0, n0, tid);
  float* const c_stage = reinterpret_cast<float*>(smem + Pipeline<T, TA, TB>::kBytes);

  FragC acc[kFM][kFN];
  zero_fragments(acc);

  // Prologue: the first kStages-1 k-steps in flight.
#pragma unroll
  for (int kt = 0; kt < kStages - 1; ++kt) pipe.issue(kt);

  for (int kt = 0; kt < k_steps; ++kt) {
    __pipeline_wait_prior(kStages - 2);  // my copies of k-step kt are done
    __syncthreads();                     // everyone's are; stage kt-1 is free
    pipe.issue(kt + kStages - 1);        // refill it, kStages-1 k-steps ahead

    warp_tile_mma<T, TA, TB>(pipe.a(kt), pipe.b(kt), warp_m, warp_n, acc);  // kernel 4's, on stage kt
  }
  __pipeline_wait_prior(0);

  store_warp_tile_checked<T>(g, z, acc, c_stage + warp * kScratchFloats, m0 + warp_m * kWM, n0 + warp_n * kWN,
                             lane);
}

/// Launches the instance for <T, TA, TB> (see with_instance).
struct Launcher {
  const GemmArgs& g;
  dim3 grid;
  cudaStream_t stream;
  template <class T, bool TA, bool TB>
  void operator()() const {
    auto* kernel = &gemm_wmma_pipeline_kernel<T, TA, TB>;
    constexpr int bytes = smem_bytes<T, TA, TB>();
    // Over 48 KiB of dynamic shared memory needs an opt-in, once per kernel instance.
    static const cudaError_t opt_in = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    HALFWAY_CUDA_CHECK(opt_in);
    HALFWAY_LAUNCH(kernel, grid, kThreads, bytes, stream)(g);
  }
};

}  // namespace

void launch_wmma_pipeline(const GemmArgs& g, cudaStream_t stream) {
  const dim3 grid(ceil_div(g.n, kBN), ceil_div(g.m, kBM), unsigned(g.batch));
  with_instance(g, Launcher{g, grid, stream});
  check_launch("5 (wmma_pipeline)");
}

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl
