// Kernel 3 of the GEMM ladder: naive WMMA, one warp per 16x16 tile of C.
//
// What it adds over kernel 2: tensor cores. A warp hands a 16x16x16 product to the
// tensor cores with three collective calls (nvcuda::wmma):
//   load_matrix_sync(fa, ptr_to_A_tile, lda)    16x16 of op(A) into a fragment
//   load_matrix_sync(fb, ptr_to_B_tile, ldb)    16x16 of op(B)
//   mma_sync(acc, fa, fb, acc)                  acc += fa * fb, fp16 in, fp32 accumulate
// One mma_sync is 2 * 16^3 = 8192 flops issued by one warp: on an A100 or H100 a tensor
// core does this in a few cycles, work that takes 32 lanes x 128 FMAs on the SIMT pipes.
// A fragment is opaque: which lane holds which element is unspecified, so the only
// portable ways in and out are load/store_matrix_sync (and uniform x[i] element-wise ops).
//
// Math: like kernel 1, every input is read straight from global memory (through L1/L2),
// once per warp: arithmetic intensity 16x16x16x2 flops / (2 x 256 x 2 bytes) = 8 flop/byte.
// The tensor cores wait on memory almost all the time.
//
// Tiling: blocks of 4 warps side by side along N; warp w of block (bx, by) owns the tile
// C[16*by : 16*by+16][16*(4*bx+w) : +16] and walks K in steps of 16:
//
//            op(B): 16 x 16 tiles, k0 = 0, 16, 32 ...
//                  |w0|w1|w2|w3|
//   op(A)    +--+--+  +--+--+--+--+
//   16 rows  |  |  |  |  |  |  |  |  <- one 16x64 strip of C per block
//            +--+--+  +--+--+--+--+
//
// WMMA's rules decide the edges: it has no predication and needs 32-byte aligned pointers
// and ldm a multiple of 8 elements. A tile that lies fully inside the matrix with such
// a pointer is loaded straight from global memory; any other tile (the edges of M, N, K
// not multiples of 16, a leading dimension not a multiple of 8, an unaligned base) is
// first copied by the warp into a 16 x 24 shared-memory tile with zeros outside the
// matrix. The store goes the same way: WMMA cannot skip out-of-range elements, so the
// accumulator goes through shared memory and each lane writes its elements with checks.
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS::gemm_impl {

namespace {

constexpr int kWarps = 4;
constexpr int kLdStage = 24;  // 16 + 8 padding: a multiple of 8, 16-row offsets 32-byte aligned

/// Warp-cooperative copy of the 16x16 tile at (r0, c0) of a row-major matrix into s
/// (leading dimension kLdStage), zeros outside rows_max x cols_max.
template <class T>
__device__ __forceinline__ void stage16(T* s, const T* g, int64_t ld, int r0, int c0, int rows_max,
                                        int cols_max, int lane) {
  for (int e = lane; e < 256; e += 32) {
    const int r = e / 16, c = e % 16;
    const int gr = r0 + r, gc = c0 + c;
    s[r * kLdStage + c] = (gr < rows_max && gc < cols_max) ? g[int64_t(gr) * ld + gc] : from_float<T>(0.0f);
  }
}

template <class T, bool TA, bool TB>
__global__ void __launch_bounds__(32 * kWarps) gemm_wmma_naive_kernel(const GemmArgs g) {
  const int warp = threadIdx.y, lane = threadIdx.x, z = blockIdx.z;
  const int m0 = blockIdx.y * 16;
  const int n0 = (blockIdx.x * kWarps + warp) * 16;
  if (n0 >= g.n) return;  // only warp-level syncs below: a whole warp may leave

  __shared__ __align__(32) T a_stage[kWarps][16 * kLdStage];
  __shared__ __align__(32) T b_stage[kWarps][16 * kLdStage];
  __shared__ __align__(32) float c_stage[kWarps][kScratchFloats];

  const T* a = entry<T>(g.a, g.stride_a, z);
  const T* b = entry<T>(g.b, g.stride_b, z);
  // Stored shapes: A is M x K (TA false) or K x M; B is K x N (TB false) or N x K.
  const int a_rows = TA ? g.k : g.m, a_cols = TA ? g.m : g.k;
  const int b_rows = TB ? g.n : g.k, b_cols = TB ? g.k : g.n;

  FragA<T, TA> fa;
  FragB<T, TB> fb;
  FragC acc;
  wmma::fill_fragment(acc, 0.0f);

  for (int k0 = 0; k0 < g.k; k0 += 16) {
    // op(A) tile (m0, k0): in the stored A it starts at row r, column c.
    const int ar = TA ? k0 : m0, ac = TA ? m0 : k0;
    const T* pa = a + int64_t(ar) * g.lda + ac;
    if (ar + 16 <= a_rows && ac + 16 <= a_cols && g.lda % 8 == 0 && aligned(pa, 32)) {
      wmma::load_matrix_sync(fa, pa, unsigned(g.lda));
    } else {
      stage16(a_stage[warp], a, g.lda, ar, ac, a_rows, a_cols, lane);
      __syncwarp();
      wmma::load_matrix_sync(fa, a_stage[warp], kLdStage);
    }
    // op(B) tile (k0, n0).
    const int br = TB ? n0 : k0, bc = TB ? k0 : n0;
    const T* pb = b + int64_t(br) * g.ldb + bc;
    if (br + 16 <= b_rows && bc + 16 <= b_cols && g.ldb % 8 == 0 && aligned(pb, 32)) {
      wmma::load_matrix_sync(fb, pb, unsigned(g.ldb));
    } else {
      stage16(b_stage[warp], b, g.ldb, br, bc, b_rows, b_cols, lane);
      __syncwarp();
      wmma::load_matrix_sync(fb, b_stage[warp], kLdStage);
    }
    wmma::mma_sync(acc, fa, fb, acc);
    __syncwarp();  // every lane has read the staging tiles before the next k0 rewrites them
  }
  store_tile_checked<T>(g, z, acc, c_stage[warp], m0, n0, lane);
}

/// Launches the instance for <T, TA, TB> (see with_instance).
struct Launcher {
  const GemmArgs& g;
  dim3 grid;
  dim3 block;
  cudaStream_t stream;
  template <class T, bool TA, bool TB>
  void operator()() const {
    auto* kernel = &gemm_wmma_naive_kernel<T, TA, TB>;
    HALFWAY_LAUNCH(kernel, grid, block, 0, stream)(g);
  }
};

}  // namespace

void launch_wmma_naive(const GemmArgs& g, cudaStream_t stream) {
  const dim3 grid(ceil_div(g.n, 16 * kWarps), ceil_div(g.m, 16), unsigned(g.batch));
  const dim3 block(32, kWarps);
  with_instance(g, Launcher{g, grid, block, stream});
  check_launch("3 (wmma_naive)");
}

}  // namespace halfway::HALFWAY_KERNEL_NS::gemm_impl
