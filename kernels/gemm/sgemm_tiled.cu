// The fp32 GEMM of the emu and cuda backends: f32 inputs, f32 output, SIMT units only.
//
// What it is for: chapter 03's Transformer layers have an fp32 mode (activations, weights
// and gradients all fp32), and on the cuda backend their products run here. WMMA has no
// fp32 x fp32 tensor-core shape (its fp32 fragments are accumulators only; the tf32 shape
// m16n16k8 rounds the inputs to 10-bit mantissas, which is not fp32 and is not used here),
// so this kernel runs on the ordinary fp32 FMA units: an H100/H200 has ~60-67 TFLOP/s of
// them against ~990 TFLOP/s of fp16 tensor cores. It is not a rung of the ladder: it is what
// gemm() runs for `in == f32` on emu and cuda (the cpu backend calls OpenBLAS sgemm).
//
// Math: C = alpha * op(A) * op(B) + beta * C, every product and sum in fp32 (products
// rounded to nearest, or fused into the FMA). Per k-step a block loads BM*BK + BK*BN
// floats and does 2*BM*BN*BK flops: with BM = BN = 64 that is 2*64*64/(2*64) = 64 flops
// per loaded float, 16 flop/byte of global traffic (kernel 2's 16x16 fp32 tiles: 2).
// Register blocking does the same for shared memory: each thread keeps a 4x4 micro-tile of
// C in registers and, per p, reads 4 values of A and 4 of B for 16 FMAs (kernel 2: 2 reads
// per FMA), so the FMA pipes, not shared-memory bandwidth, set the pace.
//
// Tiling (one block of 16x16 = 256 threads; blockIdx.z is the batch entry):
//
//                                 k0 ->  +----------------+
//                                   Bs   | BK x BN  16x64 |  op(B) tile, k-major
//                                        +----------------+
//          k0 ->                          tx: columns tx, tx+16, tx+32, tx+48
//        +------+                        +----------------+
//     As | BM x |  op(A) tile,        ty | x   x   x   x  |  thread (ty, tx) owns the
//        | BK   |  stored k-major     +16| x   x   x   x  |  4x4 elements of the 64x64
//        |64x16 |  (As[p][m])         +32| x   x   x   x  |  C tile at rows ty + 16 i,
//        |      |                     +48| x   x   x   x  |  columns tx + 16 j (i, j < 4)
//        +------+                        +----------------+
//
//   for each k0 (step BK = 16):
//     every thread copies 4 elements of op(A) and 4 of op(B) into As[p][m], Bs[p][n]
//     (0 outside M, N, K: edge tiles need no special case below), __syncthreads()
//     for p < BK: a[i] = As[p][ty + 16 i], b[j] = Bs[p][tx + 16 j], acc[i][j] += a[i] * b[j]
//     __syncthreads()
//   store_c: alpha * acc + beta * C, bound-checked, C not read when beta == 0
//
// op N/T is a matter of how the tiles are loaded: consecutive threads take consecutive
// elements of the *stored* matrix (coalesced global reads: along k for A N and B T, along
// m or n for A T and B N) and write them to the k-major tile. Rows of the tiles are padded
// to 65 floats, so those writes (stride 65 when k varies) put the 16 k of a row in 16
// different banks, and the reads of the inner loop are broadcasts (As: two adjacent
// addresses per warp) or 16 consecutive words read by both halves of the warp (Bs). The strided micro-tile (rows ty + 16 i rather than 4 ty + i)
// keeps both conflict-free and makes the 16 threads of a half-warp store 16 consecutive
// elements of a row of C.
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16;  // block tile of C, k-step
constexpr int kTM = 4, kTN = 4;              // micro-tile of C per thread
constexpr int kThreadsX = kBN / kTN, kThreadsY = kBM / kTM;  // 16 x 16
constexpr int kThreads = kThreadsX * kThreadsY;              // 256
constexpr int kLds = kBM + 1;                // padded row of As and Bs (kBM == kBN)
static_assert(kBM == kBN, "As and Bs share the padded row length");
static_assert(kBM * kBK % kThreads == 0 && kBK * kBN % kThreads == 0, "whole tiles per pass");

/// Copies the kBK x kBM (As) or kBK x kBN (Bs) tile of op(X) starting at (k0, r0) into the
/// k-major tile s[p][r]. `KFast`: the stored matrix runs along k in memory (A with op N,
/// B with op T), so consecutive threads take consecutive p; otherwise consecutive r.
/// `at(r, p)` reads op(X) at row/column r (m for A, n for B) and depth p, in range only.
template <bool KFast, class At>
__device__ __forceinline__ void load_k_major(float (*s)[kLds], int r0, int k0, int r_max, int k_max,
                                             const At& at, int tid) {
  constexpr int kRows = kBM;  // m or n extent of the tile
#pragma unroll
  for (int e = tid; e < kRows * kBK; e += kThreads) {
    const int p = KFast ? e % kBK : e / kRows;
    const int r = KFast ? e / kBK : e % kRows;
    const int gr = r0 + r, gp = k0 + p;
    s[p][r] = (gr < r_max && gp < k_max) ? at(gr, gp) : 0.0f;
  }
}

template <bool TA, bool TB>
__global__ void __launch_bounds__(kThreads) sgemm_tiled_kernel(const GemmArgs g) {
  const int z = blockIdx.z;
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kThreadsX + tx;
  const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const float* a = entry<float>(g.a, g.stride_a, z);
  const float* b = entry<float>(g.b, g.stride_b, z);

  __shared__ float as[kBK][kLds];  // as[p][m] = op(A)[m0 + m][k0 + p]
  __shared__ float bs[kBK][kLds];  // bs[p][n] = op(B)[k0 + p][n0 + n]
  const auto a_elem = [&](int i, int p) { return a_at(g, a, i, p); };
  const auto b_elem = [&](int j, int p) { return b_at(g, b, p, j); };

  float acc[kTM][kTN] = {};
  for (int k0 = 0; k0 < g.k; k0 += kBK) {
    load_k_major<!TA>(as, m0, k0, g.m, g.k, a_elem, tid);
    load_k_major<TB>(bs, n0, k0, g.n, g.k, b_elem, tid);
    __syncthreads();
#pragma unroll
    for (int p = 0; p < kBK; ++p) {
      float ar[kTM], br[kTN];
#pragma unroll
      for (int i = 0; i < kTM; ++i) ar[i] = as[p][ty + i * kThreadsY];
#pragma unroll
      for (int j = 0; j < kTN; ++j) br[j] = bs[p][tx + j * kThreadsX];
#pragma unroll
      for (int i = 0; i < kTM; ++i)
#pragma unroll
        for (int j = 0; j < kTN; ++j) acc[i][j] += ar[i] * br[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kTM; ++i)
#pragma unroll
    for (int j = 0; j < kTN; ++j) store_c<float>(g, z, m0 + ty + i * kThreadsY, n0 + tx + j * kThreadsX, acc[i][j]);
}

struct Launch {
  const GemmArgs& g;
  cudaStream_t stream;
  template <class T, bool TA, bool TB>
  void operator()() const {
    const dim3 grid(ceil_div(g.n, kBN), ceil_div(g.m, kBM), unsigned(g.batch));
    const dim3 block(kThreadsX, kThreadsY);
    auto* kernel = &sgemm_tiled_kernel<TA, TB>;  // (a template-id's comma would split the macro)
    HALFWAY_LAUNCH(kernel, grid, block, 0, stream)(g);
  }
};

}  // namespace

void launch_sgemm_tiled(const GemmArgs& g, cudaStream_t stream) {
  with_layouts<float>(g, Launch{g, stream});
  check_launch("sgemm_tiled (fp32)");
}

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl

namespace halfway::HALFWAY_KERNEL_NS {

// gridDim.z holds the batch entry and stops at 65535: longer batches go in slices (as
// gemm_launch does for the ladder).
void sgemm_launch(const GemmArgs& g, void* stream) {
  constexpr int kMaxZ = 65535;
  for (int z0 = 0; z0 < g.batch; z0 += kMaxZ) {
    GemmArgs part = g;
    part.batch = g.batch - z0 < kMaxZ ? g.batch - z0 : kMaxZ;
    part.a = static_cast<const float*>(g.a) + std::int64_t(z0) * g.stride_a;
    part.b = static_cast<const float*>(g.b) + std::int64_t(z0) * g.stride_b;
    part.c = static_cast<float*>(g.c) + std::int64_t(z0) * g.stride_c;
    gemm_impl::launch_sgemm_tiled(part, static_cast<cudaStream_t>(stream));
  }
}

}  // namespace halfway::HALFWAY_KERNEL_NS
