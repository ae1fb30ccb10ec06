/// @file gemm.hpp
/// @brief The course's GEMM: C = alpha * op(A) * op(B) + beta * C, the one matrix product
/// every later chapter calls.
///
/// Conventions (BLAS-like, but row-major throughout):
/// - A, B, C are row-major. op(A) is M x K, op(B) is K x N, C is M x N.
/// - `Op::N` uses the stored matrix as is, `Op::T` its transpose. So with op_a = N the
///   stored A is M x K (lda >= K); with op_a = T the stored A is K x M (lda >= M). With
///   op_b = N the stored B is K x N (ldb >= N); with op_b = T it is N x K (ldb >= K).
///   The Transformer needs A*B (forward), A*B^T (dX = dY * W^T) and A^T*B (dW = X^T * dY).
/// - Inputs are f16 or bf16 (both the same type), products are accumulated in fp32, the
///   output C is f32 or the input type. Inputs may also be f32 (chapter 03's fp32 mode),
///   with an f32 output: that is plain sgemm, run by a SIMT fp32 kernel on emu/cuda
///   (kernels/gemm/sgemm_tiled.cu: WMMA has no fp32 tensor-core path) and by OpenBLAS on
///   cpu. alpha and beta are fp32. With beta == 0, C is only written, never read (an
///   uninitialised C, even NaN, does not leak into the result).
/// - A strided batch (attention heads): matrix i of the batch is at a + i * stride_a,
///   b + i * stride_b, c + i * stride_c (strides in elements; 0 broadcasts a matrix).
/// - Any M, N, K >= 1: nothing requires multiples of 16, of 8, or aligned pointers.
///   Aligned data (16-byte aligned pointers, leading dimensions and strides multiples of 8)
///   take the fast vectorised paths of the tensor-core kernels.
///
/// Backends (common/backend.hpp): `cuda` runs the best WMMA kernel on the GPU (pointers
/// are device pointers); `emu` runs the same kernels under the SIMT emulator (host
/// pointers); `cpu` runs the course's packed GEMM, which converts 16-bit inputs while it
/// packs them, on the instruction-set path the CPU has (kernels/gemm/cpu_isa.hpp; host
/// pointers). f32 inputs: SIMT fp32 kernel on emu/cuda, OpenBLAS on cpu. The same numbers come out of all three, up to the order of fp32
/// additions (see chapters/02_gemm/README.md for the error bound).
///
/// Example: Y[M x N] = X[M x K] * W^T with W stored N x K, all fp16, fp32 output:
/// @code
///   halfway::GemmArgs g;
///   g.op_b = halfway::Op::T;
///   g.m = M; g.n = N; g.k = K;
///   g.in = halfway::DType::f16; g.out = halfway::DType::f32;
///   g.a = x; g.lda = K;  g.b = w; g.ldb = K;  g.c = y; g.ldc = N;
///   halfway::gemm(halfway::Backend::cpu, g);
/// @endcode
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/backend.hpp"
#include "common/dtype.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/convert_array.hpp"  // the cpu GEMM's conversions (the benchmark and tests call them too)

namespace halfway {

/// How a stored matrix enters the product: as is (N) or transposed (T).
enum class Op : std::uint8_t { N, T };

/// The rungs of chapter 02's kernel ladder, and `best`, what the library uses.
enum class GemmKernel : std::uint8_t {
  best = 0,           ///< the library's choice (emu/cuda: wmma_best; sgemm_tiled for f32 inputs)
  naive = 1,          ///< 1: one thread per output element, straight from global memory
  smem_tiled = 2,     ///< 2: 16x16 tiles staged in shared memory (exercise 02.1)
  wmma_naive = 3,     ///< 3: one warp per 16x16 output tile, WMMA fragments from global
  wmma_block = 4,     ///< 4: 128x128 block tile in shared memory, 8 warps (exercise 02.2)
  wmma_pipeline = 5,  ///< 5: kernel 4 + a 3-stage cp.async pipeline
  wmma_best = 6,      ///< 6: 4 stages, 64x64 warp tiles, fragment double-buffering,
                      ///<    L2 block swizzle, vectorised shared-memory epilogue
};

/// "best", "naive", "smem_tiled", "wmma_naive", "wmma_block", "wmma_pipeline", "wmma_best".
std::string_view to_string(GemmKernel k);
/// Parses a name above or its number ("1".."6", "0" for best). Throws UsageError.
GemmKernel parse_gemm_kernel(std::string_view name);

/// One GEMM or a strided batch of them. Plain data: it is also the kernels' argument.
struct GemmArgs {
  Op op_a = Op::N;           ///< op(A) = A or A^T
  Op op_b = Op::N;           ///< op(B) = B or B^T
  int m = 0, n = 0, k = 0;   ///< C is m x n, the sum runs over k
  DType in = DType::f16;     ///< element type of A and B: f16, bf16 or f32 (fp32 mode)
  DType out = DType::f32;    ///< element type of C: f32 or the same as `in` (f32 for f32 in)
  const void* a = nullptr;   ///< stored A: m x k (op_a N) or k x m (op_a T), row-major
  std::int64_t lda = 0;      ///< elements between rows of the stored A
  const void* b = nullptr;   ///< stored B: k x n (op_b N) or n x k (op_b T), row-major
  std::int64_t ldb = 0;      ///< elements between rows of the stored B
  void* c = nullptr;         ///< C: m x n, row-major
  std::int64_t ldc = 0;      ///< elements between rows of C
  float alpha = 1.0f;        ///< scale of the product
  float beta = 0.0f;         ///< scale of the old C (0: C is not read)
  int batch = 1;             ///< number of products
  std::int64_t stride_a = 0; ///< elements between consecutive A matrices of a batch
  std::int64_t stride_b = 0; ///< elements between consecutive B matrices
  std::int64_t stride_c = 0; ///< elements between consecutive C matrices
  /// Optional bias, n values of the input type (f16/bf16), the same for every row of every
  /// matrix of the batch: C = round(alpha op(A) op(B) + beta C + bias), the bias added in
  /// fp32 before C's one rounding (a linear layer's epilogue). Only the cpu backend's packed
  /// GEMM (16-bit inputs) takes one; elsewhere gemm() refuses it (nullptr: no bias).
  const void* bias = nullptr;
};

/// Fills the shape, the layouts and tight leading dimensions (lda = cols of the stored A,
/// ...) and strides (one matrix after the other); pointers, types, alpha, beta are left
/// to the caller.
GemmArgs gemm_args(Op op_a, Op op_b, int m, int n, int k, int batch = 1);

/// Checks a GemmArgs: sizes >= 1, supported types, leading dimensions large enough,
/// non-null pointers, C of one batch entry not overlapping another (stride_c >= the
/// matrix). Throws halfway::Error saying what was expected and what was found.
void validate(const GemmArgs& g);

/// "NN", "NT", "TN" or "TT": op_a then op_b.
std::string layout_name(const GemmArgs& g);

/// Runs C = alpha * op(A) * op(B) + beta * C on `backend`. `kernel` picks a rung of the
/// ladder on emu and cuda (tests and the benchmark use it; leave it at `best` otherwise);
/// the cpu backend and f32 inputs (one fp32 kernel, no ladder) accept only `best`. `stream` is a cudaStream_t (nullptr: the default
/// stream). On cuda the call is asynchronous like any kernel launch; launch errors are
/// thrown as halfway::Error.
void gemm(Backend backend, const GemmArgs& g, GemmKernel kernel = GemmKernel::best,
          void* stream = nullptr);

/// The cpu backend: fp16/bf16 inputs through the packed GEMM (gemm_cpu_packed.hpp) on the
/// path cpu_isa() picks, C rounded to fp16/bf16 if asked; f32 inputs through OpenBLAS
/// `cblas_sgemm`.
void gemm_cpu(const GemmArgs& g);

/// Tile shapes of kernel 6 that the benchmark compares (variant 0 is the library's):
/// the best shape differs from GPU to GPU, so the benchmark keeps measuring them.
inline constexpr const char* kGemmBestVariants[] = {
    "128x128x32, 4 warps of 64x64, 4 stages", "128x256x32, 8 warps of 64x64, 3 stages",
    "256x128x32, 8 warps of 64x64, 3 stages", "128x128x64, 4 warps of 64x64, 3 stages"};

/// Kernel 6 with tile shape `variant` (0-3, see kGemmBestVariants) on emu or cuda.
/// Variants 1-3 take f16 inputs, layout NN and batches up to 65535 only (benchmark use).
void gemm_best_variant(Backend backend, const GemmArgs& g, int variant, void* stream = nullptr);

/// FLOPs of the product (2*M*N*K per batch entry), for GFLOP/s figures.
inline double gemm_flops(const GemmArgs& g) {
  return 2.0 * g.m * double(g.n) * double(g.k) * g.batch;
}

}  // namespace halfway

/// The kernel libraries' entry point, once per build (halfway::emu and halfway::gpu):
/// checks nothing (gemm() validates) and launches rung `kernel` of the ladder.
/// sgemm_launch runs the fp32 SIMT kernel (f32 inputs and output, any layout and batch).
HALFWAY_KERNEL_API(void gemm_launch(::halfway::GemmKernel kernel, const ::halfway::GemmArgs& g, void* stream);
                   void gemm_launch_variant(int variant, const ::halfway::GemmArgs& g, void* stream);
                   void sgemm_launch(const ::halfway::GemmArgs& g, void* stream);)
