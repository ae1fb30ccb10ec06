/// @file gemm_device.cuh
/// @brief What every kernel of the GEMM ladder shares: element access through op(A) and
/// op(B), the bound-checked epilogue, tile loaders into shared memory, WMMA layouts,
/// zeroing and storing warp tiles of fragments, and the dispatch of a GemmArgs to a kernel
/// template instance. The warp loops themselves are not shared: kernels 4 and 5 run
/// exercise 02.2's (02_gemm/04_warp_tile.cuh), kernel 6 has its own, in another order.
///
/// Compiled twice like every kernel file: by nvcc (halfway::gpu) and by g++ against the
/// emulator (halfway::emu). Device code uses CUDA's names; the host API is GemmArgs.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "common/device.cuh"
#include "common/error.hpp"
#include "kernels/gemm/gemm.hpp"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace wmma = nvcuda::wmma;
using std::int64_t;

// ---- element types ----------------------------------------------------------------------

/// fp32 value of an input element.
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(float x) { return x; }  // the fp32 kernel's inputs

/// A float rounded (to nearest even) to the input type T (unchanged when T is float).
template <class T>
__device__ __forceinline__ T from_float(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(x);
  } else {
    return __float2bfloat16_rn(x);
  }
}

/// The batch entry `z` of a matrix: base + z * stride elements.
template <class T>
__device__ __forceinline__ const T* entry(const void* base, int64_t stride, int z) {
  return static_cast<const T*>(base) + int64_t(z) * stride;
}
template <class T>
__device__ __forceinline__ T* entry(void* base, int64_t stride, int z) {
  return static_cast<T*>(base) + int64_t(z) * stride;
}

// ---- element access through op() (the SIMT kernels 1 and 2) -----------------------------

/// op(A)[i][p] as float: A[i][p] when op_a is N, A[p][i] when it is T.
template <class T>
__device__ __forceinline__ float a_at(const GemmArgs& g, const T* a, int i, int p) {
  return to_float(g.op_a == Op::N ? a[int64_t(i) * g.lda + p] : a[int64_t(p) * g.lda + i]);
}

/// op(B)[p][j] as float: B[p][j] when op_b is N, B[j][p] when it is T.
template <class T>
__device__ __forceinline__ float b_at(const GemmArgs& g, const T* b, int p, int j) {
  return to_float(g.op_b == Op::N ? b[int64_t(p) * g.ldb + j] : b[int64_t(j) * g.ldb + p]);
}

/// The epilogue of one element: C[i][j] = alpha * acc + beta * C[i][j] in fp32, then stored
/// as f32 or rounded to T. C is not read when beta == 0. Does nothing outside M x N.
template <class T>
__device__ __forceinline__ void store_c(const GemmArgs& g, int z, int i, int j, float acc) {
  if (i >= g.m || j >= g.n) return;
  const int64_t at = int64_t(i) * g.ldc + j;
  float v = g.alpha * acc;
  if (g.out == DType::f32) {
    float* c = entry<float>(g.c, g.stride_c, z);
    if (g.beta != 0.0f) v += g.beta * c[at];
    c[at] = v;
  } else {
    T* c = entry<T>(g.c, g.stride_c, z);
    if (g.beta != 0.0f) v += g.beta * to_float(c[at]);
    c[at] = from_float<T>(v);
  }
}

// ---- WMMA layouts --------------------------------------------------------------------------
//
// A tile keeps the layout it has in global memory, so that a 16-byte chunk of a row goes
// to shared memory unchanged (a requirement of cp.async, and the fastest copy anyway).
// WMMA then reads it through the matching fragment layout:
//   op_a N: A stored M x K, element (m, k) at A[m*ld + k]  -> matrix_a row_major
//   op_a T: A stored K x M, element (m, k) at A[k*ld + m]  -> matrix_a col_major
//   op_b N: B stored K x N, element (k, n) at B[k*ld + n]  -> matrix_b row_major
//   op_b T: B stored N x K, element (k, n) at B[n*ld + k]  -> matrix_b col_major

template <bool Trans>
using layout_t = std::conditional_t<Trans, wmma::col_major, wmma::row_major>;

template <class T, bool TA>
using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, layout_t<TA>>;
template <class T, bool TB>
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, layout_t<TB>>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

/// Pointer to element (row, col) of a matrix whose stored form is transposed when Trans:
/// with Trans false that is s[row * ld + col], with Trans true s[col * ld + row].
template <bool Trans, class T>
__device__ __forceinline__ T* at_layout(T* s, int64_t ld, int row, int col) {
  return Trans ? s + int64_t(col) * ld + row : s + int64_t(row) * ld + col;
}

/// True when p is aligned to `bytes`.
__device__ __forceinline__ bool aligned(const void* p, unsigned bytes) {
  return (reinterpret_cast<std::uintptr_t>(p) & (bytes - 1)) == 0;
}

/// Dynamic shared memory is only promised 16-byte alignment; the WMMA kernels round its
/// base up to 128 bytes and ask for kSmemAlignSlack extra bytes at launch.
constexpr int kSmemAlignSlack = 128;
__device__ __forceinline__ unsigned char* align128(unsigned char* p) {
  return reinterpret_cast<unsigned char*>((reinterpret_cast<std::uintptr_t>(p) + 127) & ~std::uintptr_t(127));
}

// ---- tile loaders ----------------------------------------------------------------------------

/// Copies the ROWS x COLS tile whose top-left corner is (r0, c0) of a row-major matrix
/// (rows_max x cols_max, leading dimension ld) into shared memory (leading dimension LDS),
/// writing zeros outside the matrix: out-of-range rows and columns then add nothing to
/// the products, which is how any M, N, K works without predicated WMMA. THREADS threads
/// cooperate, each moving 16-byte chunks of 8 elements; `vec` says a chunk may be moved
/// whole (16-byte aligned rows), else it is read element by element. A whole chunk moves
/// - with kAsync false (kernel 4): as one 128-bit load and store, done on return;
/// - with kAsync true (kernels 5 and 6): by cp.async, `__pipeline_memcpy_async` (global ->
///   shared without passing through registers, completing later: the caller commits the
///   group with `__pipeline_commit` and waits for it with `__pipeline_wait_prior`).
/// Edge and unaligned chunks are stored by hand, zero-filled, in both cases.
template <bool kAsync, int ROWS, int COLS, int LDS, int THREADS, class T>
__device__ __forceinline__ void load_tile(T* s, const T* g, int64_t ld, int r0, int c0,
                                          int rows_max, int cols_max, bool vec, int tid) {
  static_assert(COLS % 8 == 0 && LDS % 8 == 0, "tiles move in 16-byte chunks");
  constexpr int kChunksPerRow = COLS / 8;
  constexpr int kChunks = ROWS * kChunksPerRow;
#pragma unroll
  for (int ch = tid; ch < kChunks; ch += THREADS) {
    const int r = ch / kChunksPerRow, c = (ch % kChunksPerRow) * 8;
    const int gr = r0 + r, gc = c0 + c;
    T* dst = s + r * LDS + c;
    if (vec && gr < rows_max && gc + 8 <= cols_max) {
      const T* src = g + int64_t(gr) * ld + gc;
      if constexpr (kAsync)
        __pipeline_memcpy_async(dst, src, 16);
      else
        *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e)
        dst[e] = (gr < rows_max && gc + e < cols_max) ? g[int64_t(gr) * ld + gc + e] : from_float<T>(0.0f);
    }
  }
}

/// Geometry of a block tile in shared memory for the WMMA kernels 4-6: the A tile is
/// BM x BK (op_a N, stored as BM rows) or BK x BM (op_a T); the B tile BK x BN (op_b N) or
/// BN x BK (op_b T). Rows are padded by 8 elements (16 bytes): the 8 rows a WMMA load
/// reads at once then start in 8 different 16-byte bank groups (no bank conflicts), and
/// every fragment pointer stays 32-byte aligned (16 rows x (cols + 8) x 2 bytes is a
/// multiple of 32) with ldm a multiple of 8, as WMMA requires.
template <int BM, int BN, int BK, bool TA, bool TB>
struct TileGeometry {
  static constexpr int kBM = BM, kBN = BN, kBK = BK;
  static constexpr bool kTA = TA, kTB = TB;
  static constexpr int kPad = 8;
  static constexpr int kARows = TA ? BK : BM, kACols = TA ? BM : BK;
  static constexpr int kBRows = TB ? BN : BK, kBCols = TB ? BK : BN;
  static constexpr int kLdA = kACols + kPad, kLdB = kBCols + kPad;
  static constexpr int kAElems = kARows * kLdA, kBElems = kBRows * kLdB;
};

/// Loads the A tile of block row m0 and k-step k0 (zero-filled outside op(A)).
template <class G, int THREADS, bool TA, bool Async, class T>
__device__ __forceinline__ void load_a_tile(T* s, const T* a, const GemmArgs& g, int m0, int k0,
                                            bool vec, int tid) {
  const int r0 = TA ? k0 : m0, c0 = TA ? m0 : k0;
  const int rows = TA ? g.k : g.m, cols = TA ? g.m : g.k;
  load_tile<Async, G::kARows, G::kACols, G::kLdA, THREADS>(s, a, g.lda, r0, c0, rows, cols, vec, tid);
}

/// Loads the B tile of k-step k0 and block column n0 (zero-filled outside op(B)).
template <class G, int THREADS, bool TB, bool Async, class T>
__device__ __forceinline__ void load_b_tile(T* s, const T* b, const GemmArgs& g, int k0, int n0,
                                            bool vec, int tid) {
  const int r0 = TB ? n0 : k0, c0 = TB ? k0 : n0;
  const int rows = TB ? g.n : g.k, cols = TB ? g.k : g.n;
  load_tile<Async, G::kBRows, G::kBCols, G::kLdB, THREADS>(s, b, g.ldb, r0, c0, rows, cols, vec, tid);
}

/// Whether the 16-byte chunk path may be used for a batch entry: 16-byte aligned base and a
/// leading dimension that keeps every row 16-byte aligned.
template <class T>
__device__ __forceinline__ bool rows_aligned16(const T* p, int64_t ld) {
  return aligned(p, 16) && (ld * int64_t(sizeof(T))) % 16 == 0;
}

/// What a block of the kernels 4-6 loads its tiles from: the A and B of batch entry z,
/// and whether each may move in 16-byte chunks (rows_aligned16).
template <class T>
struct BlockOperands {
  const T* a;
  const T* b;
  bool vec_a, vec_b;
};
template <class T>
__device__ __forceinline__ BlockOperands<T> block_operands(const GemmArgs& g, int z) {
  const T* a = entry<T>(g.a, g.stride_a, z);
  const T* b = entry<T>(g.b, g.stride_b, z);
  return {a, b, rows_aligned16(a, g.lda), rows_aligned16(b, g.ldb)};
}

/// Loads both tiles of k-step k0 for the block tile whose top-left corner in C is
/// (m0, n0): op(A)[m0 : m0+BM, k0 : k0+BK] into as, op(B)[k0 : k0+BK, n0 : n0+BN] into bs.
/// With Async the copies are cp.async, still in flight on return (see load_tile).
template <class G, int THREADS, bool Async, class T>
__device__ __forceinline__ void load_block_tiles(T* as, T* bs, const BlockOperands<T>& op, const GemmArgs& g,
                                                 int m0, int n0, int k0, int tid) {
  load_a_tile<G, THREADS, G::kTA, Async>(as, op.a, g, m0, k0, op.vec_a, tid);
  load_b_tile<G, THREADS, G::kTB, Async>(bs, op.b, g, k0, n0, op.vec_b, tid);
}

/// The cp.async pipeline of kernels 5 and 6 (kernel 5 explains it) over a ring of STAGES
/// tile buffers in shared memory: STAGES A tiles, then STAGES B tiles, from `base` (kBytes
/// in all); the tiles of k-step kt live in stage kt % STAGES. THREADS threads load them.
template <class G, int STAGES, int THREADS, class T>
struct StagePipeline {
  static constexpr int kBytes = STAGES * (G::kAElems + G::kBElems) * int(sizeof(T));
  T* const as;
  T* const bs;
  const GemmArgs& g;
  const BlockOperands<T> op;
  const int m0, n0, tid;
  const int k_steps;  // ceil(K / BK)

  /// The pipeline of the block tile whose top-left corner in C is (m0, n0), batch entry z.
  __device__ StagePipeline(unsigned char* base, const GemmArgs& g, int z, int m0, int n0, int tid)
      : as(reinterpret_cast<T*>(base)),
        bs(reinterpret_cast<T*>(base) + STAGES * G::kAElems),
        g(g),
        op(block_operands<T>(g, z)),
        m0(m0),
        n0(n0),
        tid(tid),
        k_steps((g.k + G::kBK - 1) / G::kBK) {}

  /// The A and B tiles of k-step kt (to be read once its copies have landed).
  __device__ T* a(int kt) const { return as + (kt % STAGES) * G::kAElems; }
  __device__ T* b(int kt) const { return bs + (kt % STAGES) * G::kBElems; }

  /// Issues the cp.async copies of k-step kt's tiles into its stage and commits them as one
  /// group. Every thread commits a group per call, an empty one when kt is past the last
  /// k-step, so that the count of groups `__pipeline_wait_prior` waits on stays in step.
  __device__ void issue(int kt) const {
    if (kt < k_steps) load_block_tiles<G, THREADS, true>(a(kt), b(kt), op, g, m0, n0, kt * G::kBK, tid);
    __pipeline_commit();
  }
};

// ---- warp tiles of fragments (kernels 4-6) -------------------------------------------------

/// Sets every accumulator fragment of a warp tile to zero.
template <int FM, int FN>
__device__ __forceinline__ void zero_fragments(FragC (&acc)[FM][FN]) {
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
}

/// The warp-level epilogue of the WMMA kernels: writes the 16x16 accumulator tile whose
/// top-left corner in C is (i0, j0) through a per-warp scratch of 16 x 20 floats
/// (32-byte aligned; ldm 20 is a multiple of 4 as WMMA requires for float). WMMA has no
/// bound-checked store, so the tile goes to shared memory and each lane writes its 8
/// elements with store_c's checks. kScratchFloats is the scratch's size.
constexpr int kScratchLd = 20, kScratchFloats = 16 * kScratchLd;
template <class T>
__device__ __forceinline__ void store_tile_checked(const GemmArgs& g, int z, const FragC& acc,
                                                   float* scratch, int i0, int j0, int lane) {
  constexpr int kLd = kScratchLd;
  wmma::store_matrix_sync(scratch, acc, kLd, wmma::mem_row_major);
  __syncwarp();
#pragma unroll
  for (int e = lane; e < 256; e += 32) store_c<T>(g, z, i0 + e / 16, j0 + e % 16, scratch[(e / 16) * kLd + e % 16]);
  __syncwarp();
}

/// store_tile_checked for every fragment of a warp tile whose top-left corner in C is
/// (i0, j0): fragment (i, j) goes to (i0 + 16i, j0 + 16j), all through one scratch.
template <class T, int FM, int FN>
__device__ __forceinline__ void store_warp_tile_checked(const GemmArgs& g, int z, const FragC (&acc)[FM][FN],
                                                        float* scratch, int i0, int j0, int lane) {
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) store_tile_checked<T>(g, z, acc[i][j], scratch, i0 + i * 16, j0 + j * 16, lane);
}

// ---- host side -----------------------------------------------------------------------------

/// Calls `f.template operator()<T, TA, TB>()` for the input type T (__half or
/// __nv_bfloat16; float for the fp32 kernel) and the layouts of g: one template instance per combination. (F is a
/// struct with a member template, not a C++20 template lambda: nvcc may compile C++17.)
template <class T, class F>
void with_layouts(const GemmArgs& g, const F& f) {
  const bool ta = g.op_a == Op::T, tb = g.op_b == Op::T;
  if (!ta && !tb) f.template operator()<T, false, false>();
  else if (!ta && tb) f.template operator()<T, false, true>();
  else if (ta && !tb) f.template operator()<T, true, false>();
  else f.template operator()<T, true, true>();
}
template <class F>
void with_instance(const GemmArgs& g, const F& f) {
  if (g.in == DType::f16) with_layouts<__half>(g, f);
  else with_layouts<__nv_bfloat16>(g, f);
}

/// Throws halfway::Error when the launch just made failed.
inline void check_launch(const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw Error(std::string("GEMM kernel ") + kernel + ": launch failed: " + cudaGetErrorString(err));
}

inline unsigned ceil_div(int a, int b) { return unsigned((a + b - 1) / b); }

/// The launchers of the ladder, one per kernel file (batch <= 65535: gemm_launch splits).
void launch_naive(const GemmArgs& g, cudaStream_t stream);
void launch_smem_tiled(const GemmArgs& g, cudaStream_t stream);
void launch_wmma_naive(const GemmArgs& g, cudaStream_t stream);
void launch_wmma_block(const GemmArgs& g, cudaStream_t stream);
void launch_wmma_pipeline(const GemmArgs& g, cudaStream_t stream);
void launch_wmma_best(const GemmArgs& g, cudaStream_t stream);
void launch_wmma_best_variant(int variant, const GemmArgs& g, cudaStream_t stream);
/// The fp32 SIMT kernel (sgemm_tiled.cu) for f32 inputs: not a rung of the ladder.
void launch_sgemm_tiled(const GemmArgs& g, cudaStream_t stream);

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl
