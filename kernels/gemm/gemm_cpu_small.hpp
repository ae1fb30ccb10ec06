/// @file gemm_cpu_small.hpp
/// @brief The packed GEMM's small-product path: the attention's batches of tiny matrices
/// (scores Q K^T and P V, about 5 x 5 x 32 per head) computed directly, without packing.
///
/// For a product that small, the packed driver (gemm_cpu_packed.hpp) spends most of its
/// time around the arithmetic: per batch entry it packs B into NR-wide slivers, A into
/// MR-high ones, pads both with zeros, runs an 8 x 32 micro-kernel for a 5 x 5 block and
/// looks up its per-thread buffers. Here each batch entry's op(A) and op(B) are widened
/// into small fp32 buffers on the stack (op(B) with its rows padded to the vector width;
/// a stored B^T transposed 8 x 8 in registers) and a register loop computes the whole
/// entry: no panels, no slivers.
///
/// Bits: the same as the packed driver's, on the paths that compute in fp32 FMAs (generic,
/// avx2, avx512, and fp16 inputs on avx512bf16 and amx): each element the fp32 sum of its
/// exact products in the order k = 0, 1, ..., from +0, then alpha * t (+ beta * C) in fp32
/// and a 16-bit C rounded once. bf16 on avx512bf16 and amx (pairs, tiles: their own order)
/// never takes this path.
#pragma once

#include <cstdint>

#include "kernels/gemm/gemm.hpp"
#include "kernels/gemm/gemm_cpu_packed.hpp"

namespace halfway {

/// One path's build of the small path: its widening and its register loop.
struct GemmSmallKernel {
  int width;  ///< the vector width in floats: op(B)'s rows and the result's are padded to it
  /// dst[r * ldd + c] = src[r * ld + c] widened to fp32, for r < rows, c < cols.
  void (*widen_rows)(DType in, const std::uint16_t* src, std::int64_t ld, int rows, int cols, float* dst, int ldd);
  /// dst[c * ldd + r] = src[r * ld + c] widened to fp32 (a stored B^T into op(B)'s rows),
  /// for r < rows, c < cols; may write zeros into columns past `rows` (ldd is a multiple of
  /// width).
  void (*widen_transposed)(DType in, const std::uint16_t* src, std::int64_t ld, int rows, int cols, float* dst,
                           int ldd);
  /// t[i * ldt + j] = sum over p < k, in that order from +0, of a[i * a_rs + p * a_ps] *
  /// b[p * ldt + j], for i < m and every j < ldt (ldt a multiple of width; b's columns
  /// past n are zeros).
  void (*run)(int m, int k, int ldt, const float* a, std::int64_t a_rs, std::int64_t a_ps, const float* b, float* t);
};

namespace gemm_small_kernels {
extern const GemmSmallKernel generic;  ///< plain C++ (gemm_cpu_small.cpp)
extern const GemmSmallKernel avx2;     ///< AVX2 + FMA (gemm_cpu_small_simd.cpp, HALFWAY_HOST_SIMD only)
extern const GemmSmallKernel avx512;   ///< AVX-512F (gemm_cpu_small_simd.cpp, HALFWAY_HOST_SIMD only)
}  // namespace gemm_small_kernels

/// Whether `g` (validated, 16-bit inputs) on `path` is computed by the small path: the
/// path's arithmetic is fp32 FMAs, one batch entry's buffers fit the stack, and the
/// product per entry is small enough that packing would cost more than it saves (and no
/// bias: the packed path's epilogue adds it).
bool gemm_cpu_small_fits(const GemmArgs& g, const GemmCpuPath& path);

/// Computes `g` on the small path and returns true when gemm_cpu_small_fits; returns false
/// (and does nothing) otherwise, or while a ScopedPackedOnly is alive.
bool gemm_cpu_small(const GemmArgs& g, const GemmCpuPath& path);

/// How many calls the small path has computed in this process (the tests check that the
/// trainer's attention products take it).
std::int64_t gemm_cpu_small_calls();

/// While one is alive, gemm_cpu_small refuses every product, on every thread: the packed
/// driver computes them all (the tests compare the two paths' bits).
class ScopedPackedOnly {
 public:
  ScopedPackedOnly();
  ~ScopedPackedOnly();
  ScopedPackedOnly(const ScopedPackedOnly&) = delete;
  ScopedPackedOnly& operator=(const ScopedPackedOnly&) = delete;
};

}  // namespace halfway
