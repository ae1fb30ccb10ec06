// The fp8 GEMM kernel (gemm.hpp): C = A . B^T * inv_scale, A (M x K) and B (N x K) fp8,
// K contiguous in both, C fp32, on the tensor cores' fp8 instruction.
//
// Math. Each output is one dot product of length K, accumulated in fp32:
//     acc = +0;  for k0 = 0, 32, 64, ...:  acc = mma(A[m][k0 : k0+32], B[n][k0 : k0+32], acc)
//     C[m][n] = acc * inv_scale
// where one mma is `mma.sync.aligned.m16n8k32.row.col.f32.<a>.<b>.f32` (sm_89+): a warp's
// 16 x 8 tile of accumulators plus a 16 x 32 by 32 x 8 product. The emulator defines that
// instruction (common/emu/mma_fp8.hpp) as adding its 32 exact products into the running
// accumulator one by one in ascending k, each addition rounded to fp32. The k-blocks come in
// ascending order, so on emu every output is
//     ((((0 + p_0) + p_1) + ...) + p_{K-1}) * inv_scale,     p_k = A[m][k] * B[n][k] exact,
// the order of the cpu reference (gemm_reference.hpp), which therefore equals this kernel
// bit for bit. Edges: the operands are staged with zeros past M, N and K; a padded k adds
// the product +0 * +0 = +0, which leaves every accumulator unchanged (an fp32 sum started
// at +0 is never -0, and inf or NaN stay as they are); padded rows and columns are not
// stored. On a GPU the tensor core adds within an instruction in its own, unpublished way
// (on Hopper with fewer than fp32's bits), so the result differs from the reference in the
// last bits, not in the order of the k-blocks.
//
// Tiling. A block of 4 warps owns a 64 x 64 tile of C and walks K in steps of 32: it
// stages A[m0 : m0+64][k0 : k0+32] and B[n0 : n0+64][k0 : k0+32] in shared memory (one
// 16-byte chunk per thread and operand; zeros outside the matrices), then each warp
// multiplies its 32 x 32 quarter as 2 x 4 mma tiles of 16 x 8:
//
//                         C columns (B rows)
//                         n0 .. n0+31              n0+32 .. n0+63
//   C rows m0 .. m0+31    +------------------------+------------------------+
//   (A rows)              |  warp 0                |  warp 1                |
//   m0+32 .. m0+63        |  warp 2                |  warp 3                |
//                         +------------------------+------------------------+
//   each warp: 2 (M) x 4 (N) tiles of 16 x 8, so 8 mma.sync of 16 x 8 x 32 per k-step
//
// Each lane's fragment registers are 4-byte loads from the staged rows (the layout in
// mma_fp8.hpp), and its accumulators are stored straight to C with bounds checks.
//
// sm_80 fallback (nvcc, __CUDA_ARCH__ < 890: no fp8 instruction). The staged tiles are
// upcast to __half (exact: every e4m3 and e5m2 value is an fp16 value), and each warp does
// its 32 x 32 quarter with fp16 WMMA 16 x 16 x 16 (2 x 2 tiles, 2 k-steps), fp32
// accumulation, the accumulators going to C through shared memory. Same k-block order,
// WMMA's own order inside.
#include <cstring>

#include "common/device.cuh"
#include "common/error.hpp"
#include "kernels/fp8/fp8.hpp"
#include "kernels/fp8/gemm.hpp"

#if !defined(__CUDACC__)
#include "common/emu/mma_fp8.hpp"
#endif

// The fp8 instruction: always on the emulator, on sm_89 and later under nvcc.
#if !defined(__CUDACC__) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890)
#define HALFWAY_FP8_MMA 1
#endif

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kTile = 64;             // block tile of C: 64 x 64
constexpr int kBK = 32;               // K per step: one mma.sync's k
constexpr int kLd = kBK + 16;         // staged row in bytes: 16 bytes of padding against bank conflicts
constexpr int kThreads = 128;         // 4 warps, 2 x 2 over the block tile
constexpr int kWarpTile = kTile / 2;  // 32 x 32 per warp

struct Fp8GemmArgs {
  const std::uint8_t* a;
  const std::uint8_t* b;
  float* c;
  std::int64_t m, n, k;
  float inv_scale;
};

/// Copies rows r0 .. r0+63, bytes k0 .. k0+31 of a rows x k byte matrix into s (kLd bytes
/// per row), zeros outside: thread i copies the 16-byte chunk (i / 2, 16 (i % 2)).
__device__ __forceinline__ void stage(std::uint8_t* s, const std::uint8_t* g, std::int64_t rows, std::int64_t k,
                                      std::int64_t r0, std::int64_t k0, int tid) {
  const int r = tid / 2, c = 16 * (tid % 2);
  const std::int64_t gr = r0 + r, gc = k0 + c;
  std::uint8_t* dst = s + r * kLd + c;
  const std::uint8_t* src = g + gr * k + gc;
  if (gr < rows && gc + 16 <= k && reinterpret_cast<std::uintptr_t>(src) % 16 == 0) {
#if defined(__CUDACC__)
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
#else
    std::memcpy(dst, src, 16);
#endif
  } else {
    for (int j = 0; j < 16; ++j) dst[j] = (gr < rows && gc + j < k) ? src[j] : std::uint8_t{0};
  }
}

#if defined(HALFWAY_FP8_MMA)

__device__ __forceinline__ std::uint32_t load_u32(const std::uint8_t* p) {
#if defined(__CUDACC__)
  return *reinterpret_cast<const std::uint32_t*>(p);
#else
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
#endif
}

#if defined(__CUDACC__)
#define HALFWAY_FP8_MMA_ASM(ta, tb)                                                                         \
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32." ta "." tb ".f32 "                                   \
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"                            \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                             \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]))
#endif

/// d += a * b on the warp's 16 x 8 tile, fp8 inputs of formats FA and FB.
template <Fp8Format FA, Fp8Format FB>
__device__ __forceinline__ void mma_fp8(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
#if defined(__CUDACC__)
  constexpr bool a4 = FA == Fp8Format::e4m3, b4 = FB == Fp8Format::e4m3;
  if constexpr (a4 && b4) HALFWAY_FP8_MMA_ASM("e4m3", "e4m3");
  else if constexpr (a4) HALFWAY_FP8_MMA_ASM("e4m3", "e5m2");
  else if constexpr (b4) HALFWAY_FP8_MMA_ASM("e5m2", "e4m3");
  else HALFWAY_FP8_MMA_ASM("e5m2", "e5m2");
#else
  constexpr simt::ptx::Fp8Decode da = FA == Fp8Format::e4m3 ? &e4m3_bits_to_float : &e5m2_bits_to_float;
  constexpr simt::ptx::Fp8Decode db = FB == Fp8Format::e4m3 ? &e4m3_bits_to_float : &e5m2_bits_to_float;
  simt::ptx::mma_m16n8k32_fp8<da, db>(d, a, b, d);
#endif
}

#endif  // HALFWAY_FP8_MMA

template <Fp8Format FA, Fp8Format FB>
__global__ void __launch_bounds__(kThreads) fp8_gemm_tc_kernel(const Fp8GemmArgs g) {
  __shared__ __align__(16) std::uint8_t sa[kTile * kLd];
  __shared__ __align__(16) std::uint8_t sb[kTile * kLd];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const std::int64_t m0 = std::int64_t(blockIdx.y) * kTile, n0 = std::int64_t(blockIdx.x) * kTile;
  const int wm = (warp / 2) * kWarpTile, wn = (warp % 2) * kWarpTile;

#if defined(HALFWAY_FP8_MMA)
  const int grp = lane / 4, tig = lane % 4;  // the mma fragment coordinates (mma_fp8.hpp)
  float acc[2][4][4] = {};
  for (std::int64_t k0 = 0; k0 < g.k; k0 += kBK) {
    stage(sa, g.a, g.m, g.k, m0, k0, tid);
    stage(sb, g.b, g.n, g.k, n0, k0, tid);
    __syncthreads();
    std::uint32_t fa[2][4], fb[4][2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const std::uint8_t* p = sa + (wm + 16 * i + grp) * kLd + 4 * tig;
      fa[i][0] = load_u32(p);
      fa[i][1] = load_u32(p + 8 * kLd);
      fa[i][2] = load_u32(p + 16);
      fa[i][3] = load_u32(p + 8 * kLd + 16);
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const std::uint8_t* p = sb + (wn + 8 * j + grp) * kLd + 4 * tig;
      fb[j][0] = load_u32(p);
      fb[j][1] = load_u32(p + 16);
    }
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) mma_fp8<FA, FB>(acc[i][j], fa[i], fb[j]);
    __syncthreads();  // the tiles are read before the next step overwrites them
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const std::int64_t row = m0 + wm + 16 * i + grp + 8 * (e / 2), col = n0 + wn + 8 * j + 2 * tig + e % 2;
        if (row < g.m && col < g.n) g.c[row * g.n + col] = acc[i][j][e] * g.inv_scale;
      }
#else
  // sm_80: the staged fp8 tiles as __half, then fp16 WMMA.
  namespace wmma = nvcuda::wmma;
  constexpr int kLdh = kBK + 8;  // halves per row: a multiple of 8, 16-row offsets 32-byte aligned
  __shared__ __align__(32) __half sah[kTile * kLdh];
  __shared__ __align__(32) __half sbh[kTile * kLdh];
  __shared__ __align__(32) float sc[4][16 * 16];
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  for (std::int64_t k0 = 0; k0 < g.k; k0 += kBK) {
    stage(sa, g.a, g.m, g.k, m0, k0, tid);
    stage(sb, g.b, g.n, g.k, n0, k0, tid);
    __syncthreads();
    for (int e = tid; e < kTile * kBK; e += kThreads) {
      const int r = e / kBK, c = e % kBK;
      sah[r * kLdh + c] = __float2half_rn(fp8_bits_to_float(sa[r * kLd + c], FA));
      sbh[r * kLdh + c] = __float2half_rn(fp8_bits_to_float(sb[r * kLd + c], FB));
    }
    __syncthreads();
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb[2];  // B[n][k]: K x N column-major
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(fa[i], sah + (wm + 16 * i) * kLdh + kk, kLdh);
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], sbh + (wn + 16 * j) * kLdh + kk, kLdh);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(sc[warp], acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const std::int64_t row = m0 + wm + 16 * i + e / 16, col = n0 + wn + 16 * j + e % 16;
        if (row < g.m && col < g.n) g.c[row * g.n + col] = sc[warp][e] * g.inv_scale;
      }
      __syncwarp();
    }
#endif
}

template <Fp8Format FA, Fp8Format FB>
void launch(const Fp8GemmArgs& g, dim3 grid) {
  HALFWAY_LAUNCH((fp8_gemm_tc_kernel<FA, FB>), grid, kThreads, 0, 0)(g);
}

}  // namespace

void fp8_gemm_kernel(const fp8::Fp8GemmShape& s, const std::uint8_t* a, const std::uint8_t* b, float inv_scale,
                     float* c) {
  if (s.m < 0 || s.n < 0 || s.k < 0)
    throw Error("fp8 GEMM: expected sizes >= 0, found m " + std::to_string(s.m) + ", n " + std::to_string(s.n) +
                ", k " + std::to_string(s.k));
  if (s.m == 0 || s.n == 0) return;
  const std::int64_t blocks_m = (s.m + kTile - 1) / kTile, blocks_n = (s.n + kTile - 1) / kTile;
  if (blocks_m > 65535)  // the grid's y limit
    throw Error("fp8 GEMM: m " + std::to_string(s.m) + " needs more than 65535 blocks of 64 rows");
  const Fp8GemmArgs g{a, b, c, s.m, s.n, s.k, inv_scale};
  const dim3 grid{static_cast<unsigned>(blocks_n), static_cast<unsigned>(blocks_m)};
  const bool a4 = s.a_format == Fp8Format::e4m3, b4 = s.b_format == Fp8Format::e4m3;
  if (a4 && b4) launch<Fp8Format::e4m3, Fp8Format::e4m3>(g, grid);
  else if (a4) launch<Fp8Format::e4m3, Fp8Format::e5m2>(g, grid);
  else if (b4) launch<Fp8Format::e5m2, Fp8Format::e4m3>(g, grid);
  else launch<Fp8Format::e5m2, Fp8Format::e5m2>(g, grid);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace halfway::HALFWAY_KERNEL_NS
