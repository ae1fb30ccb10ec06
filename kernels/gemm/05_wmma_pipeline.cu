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
// Tiles and warps as in kernel 4: 128x128x32 block tile, 8 warps of 64x32.
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace {

constexpr int kBM = 128, kBN = 128, kBK = 32, kStages = 3;
constexpr int kWarpsM = 2, kWarpsN = 4, kThreads = 32 * kWarpsM * kWarpsN;
constexpr int kWM = kBM / kWarpsM, kWN = kBN / kWarpsN;
constexpr int kFM = kWM / 16, kFN = kWN / 16;

template <class T, bool TA, bool TB>
constexpr int smem_bytes() {
  using G = TileGeometry<kBM, kBN, kBK, TA, TB>;
  return kStages * (G::kAElems + G::kBElems) * int(sizeof(T)) +
         kWarpsM * kWarpsN * 16 * 20 * int(sizeof(float)) + kSmemAlignSlack;
}

template <class T, bool TA, bool TB>
__global__ void __launch_bounds__(kThreads) gemm_wmma_pipeline_kernel(const GemmArgs g) {
  using G = TileGeometry<kBM, kBN, kBK, TA, TB>;
  HALFWAY_DYNAMIC_SHARED(unsigned char, smem_base);
  unsigned char* const smem = align128(smem_base);  // WMMA wants 32-byte aligned tiles
  T* const as = reinterpret_cast<T*>(smem);                       // kStages A tiles
  T* const bs = as + kStages * G::kAElems;                         // kStages B tiles
  float* const c_stage = reinterpret_cast<float*>(bs + kStages * G::kBElems);

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int warp_m = warp / kWarpsN, warp_n = warp % kWarpsN;
  const int z = blockIdx.z, m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const T* a = entry<T>(g.a, g.stride_a, z);
  const T* b = entry<T>(g.b, g.stride_b, z);
  const bool vec_a = rows_aligned16(a, g.lda), vec_b = rows_aligned16(b, g.ldb);
  const int k_steps = (g.k + kBK - 1) / kBK;

  auto load_stage = [&](int kt) {
    const int s = kt % kStages;
    load_a_tile<G, kThreads, TA, true>(as + s * G::kAElems, a, g, m0, kt * kBK, vec_a, tid);
    load_b_tile<G, kThreads, TB, true>(bs + s * G::kBElems, b, g, kt * kBK, n0, vec_b, tid);
  };

  FragC acc[kFM][kFN];
#pragma unroll
  for (int i = 0; i < kFM; ++i)
#pragma unroll
    for (int j = 0; j < kFN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  // Prologue: the first kStages-1 k-steps in flight. Every thread commits a group per
  // step, even an empty one, so that "wait until <= kStages-2 groups are pending" always
  // means "the group of k-step kt has landed".
#pragma unroll
  for (int kt = 0; kt < kStages - 1; ++kt) {
    if (kt < k_steps) load_stage(kt);
    __pipeline_commit();
  }

  for (int kt = 0; kt < k_steps; ++kt) {
    __pipeline_wait_prior(kStages - 2);  // my copies of k-step kt are done
    __syncthreads();                     // everyone's are; stage kt-1 is free
    if (kt + kStages - 1 < k_steps) load_stage(kt + kStages - 1);
    __pipeline_commit();

    const T* at = as + (kt % kStages) * G::kAElems;
    const T* bt = bs + (kt % kStages) * G::kBElems;
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      FragA<T, TA> fa[kFM];
      FragB<T, TB> fb[kFN];
#pragma unroll
      for (int i = 0; i < kFM; ++i)
        wmma::load_matrix_sync(fa[i], at_layout<TA>(at, G::kLdA, warp_m * kWM + i * 16, kk), G::kLdA);
#pragma unroll
      for (int j = 0; j < kFN; ++j)
        wmma::load_matrix_sync(fb[j], at_layout<TB>(bt, G::kLdB, kk, warp_n * kWN + j * 16), G::kLdB);
#pragma unroll
      for (int i = 0; i < kFM; ++i)
#pragma unroll
        for (int j = 0; j < kFN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
  }
  __pipeline_wait_prior(0);

  float* scratch = c_stage + warp * 16 * 20;
#pragma unroll
  for (int i = 0; i < kFM; ++i)
#pragma unroll
    for (int j = 0; j < kFN; ++j)
      store_tile_checked<T>(g, z, acc[i][j], scratch, m0 + warp_m * kWM + i * 16,
                            n0 + warp_n * kWN + j * 16, lane);
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
