// Kernel 6 of the GEMM ladder: the best this course makes with WMMA. The library's GEMM.
//
// What it adds over kernel 5:
// - Bigger warp tiles: 4 warps (2x2) of 64x64 on the same 128x128 block tile. Per
//   16-wide k-slice a warp loads 4 + 4 fragments for 16 mma_sync (kernel 5: 4 + 2 for 8),
//   so shared-memory reads per flop drop by a third; the 16 accumulators (128 fp32
//   registers per thread) stay in registers for the whole K loop.
// - A warp loop in another order, row by row (drawn below): kernels 4 and 5 go slice by
//   slice, loading all of a slice's A and B fragments before its products. Here the warp
//   takes the k-step in chunks of two slices, keeps the chunk's 2 x 4 B fragments, and
//   walks its 4 fragment rows: row i's two A fragments feed 2 x 4 mma_sync into
//   acc[i][0..3] while row i+1's are loaded from shared memory. Every fragment is still
//   read once per chunk (the same shared-memory traffic and mma count as slice by slice),
//   and the source holds 8 B + 2 x 2 A fragments at once, where a slice loop that
//   prefetches the next slice holds 2 x (4 + 4). ptxas (CUDA 13.0, sm_90) allocates about
//   the same to both: 216-227 registers per thread (slice loop: 210-227), no spills.
//   Which order is faster is for the benchmark to say on a GPU.
// - A 4-stage cp.async pipeline (more bytes in flight per SM: fewer, fatter blocks).
// - Block swizzling for L2: consecutive block indices walk down a column of kGroupM tile
//   rows before moving right, so the blocks resident at one time share A row panels and
//   B column panels, and most tiles come from L2 instead of HBM.
// - A shared-memory epilogue: the 128x128 fp32 block tile is staged in (reused) shared
//   memory, then written with 16-byte (fp32) or 8-byte (fp16/bf16) stores, a warp
//   covering 512 contiguous bytes of a row of C, with alpha and beta applied on the way.
//
// Math: global traffic per k-step as in kernels 4 and 5 (64 flop/byte, before L2 reuse);
// shared-memory reads per warp and 32-wide chunk 16 fragments (8 KiB) for 32 mma
// (256 Kflop), the same 32 flop per byte of shared memory as 8 fragments per 16 mma.
//
// Block order with swizzling (kGroupM = 8 here drawn as 2; numbers = block index):
//
//   without:  0  1  2  3        with:  0  2  4  6
//             4  5  6  7               1  3  5  7
//             8  9 10 11               8 10 12 14
//            12 13 14 15               9 11 13 15
//
// Warp tiles (each warp 64x64 = 4x4 fragments):
//        +----- 128 -----+
//        |  w0   |  w1   |
//    128 +-------+-------+
//        |  w2   |  w3   |
//        +-------+-------+
//
// A warp's loop over one 32-wide chunk of the k-step (b[s][j]: slice s, fragment column
// j; a[s]: the current fragment row's A fragment of slice s):
//
//                            b[0][0] b[0][1] b[0][2] b[0][3]    loaded first,
//                            b[1][0] b[1][1] b[1][2] b[1][3]    kept for all 4 rows
//   row 0: a[0] a[1]  ->  acc[0][0..3] += a[0] b[0][j] + a[1] b[1][j]   (row 1's a loading)
//   row 1: a[0] a[1]  ->  acc[1][0..3] ...                              (row 2's a loading)
//   row 2, row 3 the same
// Each acc[i][j] still adds its k-slices in increasing k: the same sums as kernel 5.
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace {

/// The warp loop's k chunk: two 16-wide slices (see the drawing above).
constexpr int kChunk = 32;

/// A tile configuration of kernel 6: block tile BM x BN, k-step BK, WARPS_M x WARPS_N warps,
/// STAGES pipeline stages. `Tuned` is the library's; the benchmark times the others
/// (gemm_launch_variant) so the choice can be revisited on each GPU.
template <int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES>
struct Tiles {
  static constexpr int kBM = BM, kBN = BN, kBK = BK, kStages = STAGES, kGroupM = 8;
  static constexpr int kWarpsM = WARPS_M, kWarpsN = WARPS_N, kThreads = 32 * WARPS_M * WARPS_N;
  static constexpr int kWM = BM / WARPS_M, kWN = BN / WARPS_N;  // the warp tile
  static constexpr int kFM = kWM / 16, kFN = kWN / 16;           // its fragments
  static constexpr int kLdC = BN + 4;  // fp32 staging of C: ldm a multiple of 4, rows shifted by 4 banks
  static_assert(kWM % 16 == 0 && kWN % 16 == 0, "whole fragments");
  static_assert(BK % kChunk == 0, "the warp loop takes the k-step in whole 32-wide chunks");
  static_assert(kWarpsM * kWM == BM && kWarpsN * kWN == BN, "the warps cover the block tile");
};
using Tuned = Tiles<128, 128, 32, 2, 2, 4>;         // 4 warps of 64x64, 4 stages
using Wide = Tiles<128, 256, 32, 2, 4, 3>;          // 8 warps of 64x64, 3 stages
using Tall = Tiles<256, 128, 32, 4, 2, 3>;          // 8 warps of 64x64, 3 stages
using DeepK = Tiles<128, 128, 64, 2, 2, 3>;         // k-step 64, 3 stages

template <class C, class T, bool TA, bool TB>
using Pipeline = StagePipeline<TileGeometry<C::kBM, C::kBN, C::kBK, TA, TB>, C::kStages, C::kThreads, T>;

template <class C, class T, bool TA, bool TB>
constexpr int smem_bytes() {
  const int pipeline = Pipeline<C, T, TA, TB>::kBytes;
  const int epilogue = C::kBM * C::kLdC * int(sizeof(float));
  return (pipeline > epilogue ? pipeline : epilogue) + kSmemAlignSlack;
}

/// The A fragments of one fragment row of a warp tile (tile rows row..row+15) for the N
/// 16-wide slices of k from k0.
template <class G, class FA, int N, class T>
__device__ __forceinline__ void load_a_row(FA (&a)[N], const T* at, int row, int k0) {
#pragma unroll
  for (int s = 0; s < N; ++s) wmma::load_matrix_sync(a[s], at_layout<G::kTA>(at, G::kLdA, row, k0 + 16 * s), G::kLdA);
}

/// One warp's share of a k-step, row by row (the loop drawn above): acc += op(A)[row0 ..,
/// 0:BK] * op(B)[0:BK, col0 ..] from the stage's tiles `at` and `bt` (geometry G).
template <class C, class G, class T>
__device__ __forceinline__ void warp_rows_mma(FragC (&acc)[C::kFM][C::kFN], const T* at, const T* bt, int row0,
                                              int col0) {
  constexpr int kFM = C::kFM, kFN = C::kFN, kSub = kChunk / 16;  // 2 slices per chunk
  // Kept a loop (a k-step of 64 has two chunks): unrolled, ptxas (CUDA 13.0, sm_90) gave
  // that variant 255 registers and spills; as a loop 232 and none (the others: no change).
#pragma unroll 1
  for (int k0 = 0; k0 < C::kBK; k0 += kChunk) {
    FragB<T, G::kTB> b[kSub][kFN];  // the chunk's B fragments: every fragment row uses them
#pragma unroll
    for (int s = 0; s < kSub; ++s)
#pragma unroll
      for (int j = 0; j < kFN; ++j)
        wmma::load_matrix_sync(b[s][j], at_layout<G::kTB>(bt, G::kLdB, k0 + 16 * s, col0 + 16 * j), G::kLdB);
    FragA<T, G::kTA> a[2][kSub];  // this row's A fragments, and the next row's on their way
    load_a_row<G>(a[0], at, row0, k0);
#pragma unroll
    for (int i = 0; i < kFM; ++i) {
      if (i + 1 < kFM) load_a_row<G>(a[(i + 1) % 2], at, row0 + 16 * (i + 1), k0);
#pragma unroll
      for (int s = 0; s < kSub; ++s)
#pragma unroll
        for (int j = 0; j < kFN; ++j) wmma::mma_sync(acc[i][j], a[i % 2][s], b[s][j], acc[i][j]);
    }
  }
}

/// 4 values of C's type written or read together (8 bytes for 16-bit types).
template <class T>
struct alignas(4 * sizeof(T)) Quad {
  T v[4];
};

template <class C, class T, bool TA, bool TB>
__global__ void __launch_bounds__(C::kThreads) gemm_wmma_best_kernel(const GemmArgs g) {
  constexpr int kBM = C::kBM, kBN = C::kBN, kBK = C::kBK, kStages = C::kStages, kGroupM = C::kGroupM;
  constexpr int kWarpsN = C::kWarpsN, kThreads = C::kThreads, kWM = C::kWM, kWN = C::kWN;
  constexpr int kFM = C::kFM, kFN = C::kFN, kLdC = C::kLdC;
  using G = TileGeometry<kBM, kBN, kBK, TA, TB>;
  HALFWAY_DYNAMIC_SHARED(unsigned char, smem_base);
  unsigned char* const smem = align128(smem_base);  // WMMA wants 32-byte aligned tiles

  // Swizzled block order (see the picture above).
  const int tiles_m = (g.m + kBM - 1) / kBM, tiles_n = (g.n + kBN - 1) / kBN;
  const int pid = blockIdx.x, per_group = kGroupM * tiles_n;
  const int first_m = (pid / per_group) * kGroupM;
  const int group_m = tiles_m - first_m < kGroupM ? tiles_m - first_m : kGroupM;
  const int tm = first_m + (pid % per_group) % group_m;
  const int tn = (pid % per_group) / group_m;
  const int m0 = tm * kBM, n0 = tn * kBN, z = blockIdx.z;

  const int tid = threadIdx.x, warp = tid / 32;
  const int warp_m = warp / kWarpsN, warp_n = warp % kWarpsN;
  const int k_steps = (g.k + kBK - 1) / kBK;
  const Pipeline<C, T, TA, TB> pipe(smem, g, z, m0, n0, tid);  // kernel 5's pipeline, kStages deep

  FragC acc[kFM][kFN];
  zero_fragments(acc);

#pragma unroll
  for (int kt = 0; kt < kStages - 1; ++kt) pipe.issue(kt);

  for (int kt = 0; kt < k_steps; ++kt) {
    __pipeline_wait_prior(kStages - 2);
    __syncthreads();
    pipe.issue(kt + kStages - 1);
    warp_rows_mma<C, G>(acc, pipe.a(kt), pipe.b(kt), warp_m * kWM, warp_n * kWN);
  }
  __pipeline_wait_prior(0);
  __syncthreads();  // every warp is done with the pipeline buffers: reuse them for C

  float* const cs = reinterpret_cast<float*>(smem);
#pragma unroll
  for (int i = 0; i < kFM; ++i)
#pragma unroll
    for (int j = 0; j < kFN; ++j)
      wmma::store_matrix_sync(cs + (warp_m * kWM + i * 16) * kLdC + warp_n * kWN + j * 16, acc[i][j], kLdC,
                              wmma::mem_row_major);
  __syncthreads();

  // Each thread writes groups of 4 consecutive columns; a warp covers 128 columns of a row.
  const bool out_f32 = g.out == DType::f32;
  void* const c_entry = out_f32 ? static_cast<void*>(entry<float>(g.c, g.stride_c, z))
                                : static_cast<void*>(entry<T>(g.c, g.stride_c, z));
  const bool vec_c = aligned(c_entry, out_f32 ? 16 : 8) && g.ldc % 4 == 0;
  for (int q = tid; q < kBM * kBN / 4; q += kThreads) {
    const int r = q / (kBN / 4), c = (q % (kBN / 4)) * 4;
    const int i = m0 + r, j = n0 + c;
    if (i >= g.m || j >= g.n) continue;
    const float* src = cs + r * kLdC + c;
    const int64_t at = int64_t(i) * g.ldc + j;
    if (vec_c && j + 4 <= g.n) {
      float v[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) v[e] = g.alpha * src[e];
      if (out_f32) {
        float4* p = reinterpret_cast<float4*>(static_cast<float*>(c_entry) + at);
        if (g.beta != 0.0f) {
          const float4 old = *p;
          v[0] += g.beta * old.x; v[1] += g.beta * old.y; v[2] += g.beta * old.z; v[3] += g.beta * old.w;
        }
        float4 nv;
        nv.x = v[0];
        nv.y = v[1];
        nv.z = v[2];
        nv.w = v[3];
        *p = nv;
      } else {
        Quad<T>* p = reinterpret_cast<Quad<T>*>(static_cast<T*>(c_entry) + at);
        Quad<T> q4;
        if (g.beta != 0.0f) {
          const Quad<T> old = *p;
#pragma unroll
          for (int e = 0; e < 4; ++e) v[e] += g.beta * to_float(old.v[e]);
        }
#pragma unroll
        for (int e = 0; e < 4; ++e) q4.v[e] = from_float<T>(v[e]);
        *p = q4;
      }
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e) store_c<T>(g, z, i, j + e, src[e]);
    }
  }
}

/// Launches the instance for <T, TA, TB> (see with_instance) with tile configuration C.
template <class C>
struct Launcher {
  const GemmArgs& g;
  cudaStream_t stream;
  template <class T, bool TA, bool TB>
  void operator()() const {
    const dim3 grid(ceil_div(g.m, C::kBM) * ceil_div(g.n, C::kBN), 1, unsigned(g.batch));
    auto* kernel = &gemm_wmma_best_kernel<C, T, TA, TB>;
    constexpr int bytes = smem_bytes<C, T, TA, TB>();
    // Over 48 KiB of dynamic shared memory needs an opt-in, once per kernel instance.
    static const cudaError_t opt_in = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    HALFWAY_CUDA_CHECK(opt_in);
    HALFWAY_LAUNCH(kernel, grid, C::kThreads, bytes, stream)(g);
  }
};

}  // namespace

void launch_wmma_best(const GemmArgs& g, cudaStream_t stream) {
  with_instance(g, Launcher<Tuned>{g, stream});
  check_launch("6 (wmma_best)");
}

void launch_wmma_best_variant(int variant, const GemmArgs& g, cudaStream_t stream) {
  if (variant == 0) return launch_wmma_best(g, stream);
  // The other shapes exist for the benchmark's comparison only: f16, NN.
  HALFWAY_EXPECT(g.in == DType::f16 && g.op_a == Op::N && g.op_b == Op::N,
                 "f16 inputs and layout NN for kernel 6's variants 1-3", "another type or layout");
  switch (variant) {
    case 1: Launcher<Wide>{g, stream}.operator()<__half, false, false>(); break;
    case 2: Launcher<Tall>{g, stream}.operator()<__half, false, false>(); break;
    case 3: Launcher<DeepK>{g, stream}.operator()<__half, false, false>(); break;
    default: HALFWAY_EXPECT(false, "a variant of kernel 6 from 0 to 3", std::to_string(variant));
  }
  check_launch("6 (wmma_best variant)");
}

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl
