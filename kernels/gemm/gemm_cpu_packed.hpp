/// @file gemm_cpu_packed.hpp
/// @brief The cpu GEMM for fp16 and bf16 inputs: packed panels converted while they are
/// packed, one small register-blocked product per tile, and the paths that compute it.
///
/// The classic way to run a GEMM near a core's peak (Goto's): copy ("pack") a sliver of MR
/// rows of op(A) and a sliver of NR columns of op(B) into contiguous buffers laid out in
/// the order the inner loop reads them, then let a micro-kernel keep an MR x NR block of C
/// in registers for the whole K loop. Packing already touches every input once, so it is
/// where 16-bit inputs become the micro-kernel's format (fp32, or bf16 pairs for the dot-
/// product units): no conversion pass, no fp32 copy of a matrix. OpenBLAS keeps the fp32
/// inputs (gemm_cpu.cpp).
///
/// Bits: on the fp32 paths (generic, avx2, avx512, and fp16 on avx512bf16/amx) every element of C
/// is the fp32 sum of its K exact products in the order k = 0, 1, ... (an fp32 product of
/// two 16-bit values is exact, so FMA or not gives the same bits): the paths agree with
/// each other bit for bit. bf16 on avx512bf16 adds products in pairs and amx in its own
/// order: bounded against fp64 like a tensor core, not equal.
#pragma once

#include <cstdint>

#include "common/dtype.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/gemm/gemm.hpp"

namespace halfway {

/// What a fused micro-kernel does with a whole MR x NR block's sums before it stores them:
/// v = sums (+ C's fp32 value when `accumulate`) (+ bias[j] when `bias`), stored as fp32 or
/// rounded once to `out`. The same fp32 adds in the same order as the driver's separate
/// epilogue (gemm_cpu_packed.cpp), so the same bits; but C is written once, from registers.
struct MicroEpilogue {
  bool accumulate;    ///< C += sums (fp32 C only: alpha = beta = 1)
  const float* bias;  ///< NR values for the block's columns, or nullptr
  DType out;          ///< C's type
};

/// One build of the packed GEMM's inner loops.
struct GemmCpuPath {
  const char* name;  ///< for messages and benchmarks
  int mr, nr;        ///< the register block of C: MR rows, NR columns
  int k_step;        ///< K is padded with zeros to a multiple of this (1; bf16 pairs 2; AMX 32)
  int elem_bytes;    ///< bytes of one packed element (4: fp32, 2: bf16)
  /// Packs `rows` (<= R) rows of length k, element (r, p) at src[r * rs + p * ps], into the
  /// path's layout for R rows and K padded to kp (the missing rows and columns are zeros).
  /// A sliver of op(A) is packed with R = mr, one of op(B)^T with R = nr. The layout is
  /// p-major: the driver packs a sliver of B in blocks of K (k = the block's rows, kp = k,
  /// or what is left of kp for the last), the block at row p0 starting p0 * R elements in.
  void (*pack_a)(DType in, const std::uint16_t* src, std::int64_t rs, std::int64_t ps, int rows, int k, int kp,
                 void* dst);
  void (*pack_b)(DType in, const std::uint16_t* src, std::int64_t rs, std::int64_t ps, int rows, int k, int kp,
                 void* dst);
  /// tile[i * ldt + j] = sum over p < kp of a(i, p) * b(p, j), from packed slivers, for
  /// all i < mr, j < nr (the driver passes C itself when the block is whole and C = AB).
  void (*micro)(int kp, const void* a, const void* b, float* tile, std::int64_t ldt);
  /// The same sums with the epilogue fused (MicroEpilogue) into c (fp32 or 16-bit words,
  /// leading dimension ldc); nullptr where the path has none (the driver then stores
  /// through a tile, as for a block at C's edge).
  void (*micro_fused)(int kp, const void* a, const void* b, void* c, std::int64_t ldc, const MicroEpilogue& e);
};

/// The path for `isa` and 16-bit input type `in`.
const GemmCpuPath& gemm_cpu_path(CpuIsa isa, DType in);

/// C = alpha op(A) op(B) + beta C for f16/bf16 inputs (validated GemmArgs) on `path`.
/// Tiny products (the attention's) take the small path, with the same bits
/// (gemm_cpu_small.hpp).
void gemm_cpu_packed(const GemmArgs& g, const GemmCpuPath& path);

namespace gemm_cpu_paths {
// The builds, one file each (gemm_cpu_generic.cpp, gemm_cpu_avx2.cpp, gemm_cpu_avx512.cpp,
// gemm_cpu_amx.cpp); the SIMD ones exist only where HALFWAY_HOST_SIMD is 1.
extern const GemmCpuPath generic;     ///< plain C++, fp32 arithmetic
extern const GemmCpuPath avx2;        ///< AVX2 + FMA + F16C, fp32 arithmetic
extern const GemmCpuPath avx512;      ///< AVX-512F, fp32 arithmetic (also fp16 on avx512bf16 and amx)
extern const GemmCpuPath avx512bf16;  ///< VDPBF16PS, bf16 pairs into fp32
extern const GemmCpuPath amx;         ///< AMX-BF16 tiles
}  // namespace gemm_cpu_paths

}  // namespace halfway
