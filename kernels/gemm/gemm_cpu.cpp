// The cpu backend of the course's GEMM: fp16/bf16 inputs converted to fp32, then OpenBLAS.
//
// Why this is exact enough: an fp16 (or bf16) value converts to fp32 exactly, so sgemm
// sees precisely the numbers a tensor core sees; a product of two fp16 values has at most
// 22 significant bits and is exact in fp32 too. What differs between backends is only the
// order (and, on tensor cores, the rounding) of the fp32 additions, which the tests bound.
//
// Why this is fast: sgemm at 1024^3 does 2.1 GFLOP in O(N^3) time while the conversions
// touch 3 N^2 elements once. Done naively (one scalar conversion at a time, a fresh
// zero-filled std::vector per call) they still cost a visible fraction of sgemm on a
// laptop; done with F16C (8 halves per instruction), over blocks of a few KiB, on all
// cores, into buffers that are reused from call to call, they cost a few percent.
#include <omp.h>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "common/error.hpp"
#include "common/host_simd.hpp"
#include "kernels/fp16/half.hpp"
#include "kernels/gemm/gemm.hpp"

#if HALFWAY_HOST_SIMD
#include <immintrin.h>
#endif

namespace halfway {

namespace {

// ---- conversions --------------------------------------------------------------------------
//
// x86-64 CPUs since 2012 have F16C: 8 halves to 8 floats (and back, rounding to nearest
// even) in one instruction. Where it is missing (another CPU, or the HALFWAY_PLAIN_CPU
// build: common/host_simd.hpp), the plain twin runs instead: chapter 01's hand-written
// conversions, one element at a time, the same bits (chapter 02's tests compare the two).
// bf16 <-> f32 is a 16-bit shift plus rounding, which the compiler vectorises.

#if HALFWAY_HOST_SIMD
__attribute__((target("avx,f16c"))) void f16_to_f32_f16c(const std::uint16_t* s, float* d,
                                                         std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  if (i < n) {  // the last 1-7 elements through a zero-padded block of 8
    alignas(32) std::uint16_t in[8] = {};
    alignas(32) float out[8];
    std::memcpy(in, s + i, std::size_t(n - i) * 2);
    _mm256_store_ps(out, _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(in))));
    std::memcpy(d + i, out, std::size_t(n - i) * 4);
  }
}

// 8 floats to 8 halves. F16C keeps a NaN's payload; the course's NaN is CUDA's 0x7fff.
__attribute__((target("avx,f16c"))) inline void f32_to_f16_block(const float* in, std::uint16_t* out) {
  const __m256 v = _mm256_loadu_ps(in);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const int nan = _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  if (nan)
    for (int j = 0; j < 8; ++j)
      if (nan >> j & 1) out[j] = 0x7fff;
}

__attribute__((target("avx,f16c"))) void f32_to_f16_f16c(const float* s, std::uint16_t* d,
                                                         std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) f32_to_f16_block(s + i, d + i);
  if (i < n) {
    alignas(32) float in[8] = {};
    alignas(32) std::uint16_t out[8];
    std::memcpy(in, s + i, std::size_t(n - i) * 4);
    f32_to_f16_block(in, out);
    std::memcpy(d + i, out, std::size_t(n - i) * 2);
  }
}
#endif  // HALFWAY_HOST_SIMD

// float -> bf16, round to nearest even (NaN: 0x7fff). Chapter 01 derives this in exercise
// 01.3; the GEMM keeps its own three lines so that it (and chapter 02's grading) does not
// depend on a student's chapter 01.
inline std::uint16_t f32_to_bf16_rne(float f) {
  std::uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

void to_f32_run(DType in, const std::uint16_t* s, float* d, std::int64_t n) {
  if (in == DType::bf16) {
    for (std::int64_t i = 0; i < n; ++i) d[i] = bf16_bits_to_float(s[i]);
  } else {
#if HALFWAY_HOST_SIMD
    if (simd::has(simd::Isa::f16c)) return f16_to_f32_f16c(s, d, n);
#endif
    for (std::int64_t i = 0; i < n; ++i) d[i] = half_bits_to_float(s[i]);
  }
}

void from_f32_run(DType out, const float* s, std::uint16_t* d, std::int64_t n) {
  if (out == DType::bf16) {
    for (std::int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16_rne(s[i]);
  } else {
#if HALFWAY_HOST_SIMD
    if (simd::has(simd::Isa::f16c)) return f32_to_f16_f16c(s, d, n);
#endif
    for (std::int64_t i = 0; i < n; ++i) d[i] = float_to_half_bits(s[i]);
  }
}

// Parallel conversion only pays for big matrices. One core converts ~4 G halves/s with
// F16C (memory-bound: 0.3 ms for 1024^2), and OpenBLAS's worker threads keep spinning for
// a while after each sgemm: an OpenMP team started right then fights them for the cores
// (measured here on 2 busy cores: 0.27 ms on one thread, 16 ms on two). So matrices below
// 8 M elements (a 2896^2 matrix) are converted by the calling thread alone.
constexpr std::int64_t kBlock = 1 << 14;
constexpr std::int64_t kParallelMin = std::int64_t(1) << 23;

// Converts a rows x cols matrix (leading dimension ld_src) into a tight fp32 matrix.
void matrix_to_f32(DType in, const std::uint16_t* src, std::int64_t ld_src, float* dst,
                   std::int64_t rows, std::int64_t cols) {
  const std::int64_t total = rows * cols;
  const bool parallel = total >= kParallelMin && omp_get_max_threads() > 1;
  if (ld_src == cols) {  // one contiguous run
    const std::int64_t blocks = (total + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t i0 = b * kBlock;
      to_f32_run(in, src + i0, dst + i0, std::min(kBlock, total - i0));
    }
    return;
  }
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t r = 0; r < rows; ++r) to_f32_run(in, src + r * ld_src, dst + r * cols, cols);
}

void matrix_from_f32(DType out, const float* src, std::uint16_t* dst, std::int64_t ld_dst,
                     std::int64_t rows, std::int64_t cols) {
  const bool parallel = rows * cols >= kParallelMin && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t r = 0; r < rows; ++r) from_f32_run(out, src + r * cols, dst + r * ld_dst, cols);
}

// A per-thread scratch buffer that only grows, never zero-filled: a new 4 MiB
// std::vector per call would cost page faults and a memset on every GEMM.
struct Scratch {
  std::unique_ptr<float[]> data;
  std::size_t size = 0;
  float* get(std::size_t n) {
    if (n > size) {
      data.reset(new float[n]);
      size = n;
    }
    return data.get();
  }
};

}  // namespace

void convert_to_f32(DType in, const std::uint16_t* src, float* dst, std::int64_t n) {
  HALFWAY_EXPECT(in == DType::f16 || in == DType::bf16, "a 16-bit type (f16 or bf16)", to_string(in));
  matrix_to_f32(in, src, n, dst, 1, n);
}

void convert_from_f32(DType out, const float* src, std::uint16_t* dst, std::int64_t n) {
  HALFWAY_EXPECT(out == DType::f16 || out == DType::bf16, "a 16-bit type (f16 or bf16)", to_string(out));
  matrix_from_f32(out, src, dst, n, 1, n);
}

void gemm_cpu(const GemmArgs& g) {
  validate(g);
  HALFWAY_EXPECT(g.lda < (1ll << 31) && g.ldb < (1ll << 31) && g.ldc < (1ll << 31),
                 "leading dimensions below 2^31 (cblas takes int)", "lda " + std::to_string(g.lda) +
                 ", ldb " + std::to_string(g.ldb) + ", ldc " + std::to_string(g.ldc));
  if (g.in == DType::f32) {  // fp32 inputs (chapter 03's fp32 mode): straight to sgemm
    const auto ta = g.op_a == Op::N ? CblasNoTrans : CblasTrans;
    const auto tb = g.op_b == Op::N ? CblasNoTrans : CblasTrans;
    for (int i = 0; i < g.batch; ++i)
      cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, static_cast<const float*>(g.a) + i * g.stride_a,
                  int(g.lda), static_cast<const float*>(g.b) + i * g.stride_b, int(g.ldb), g.beta,
                  static_cast<float*>(g.c) + i * g.stride_c, int(g.ldc));
    return;
  }
  thread_local Scratch sa, sb, sc;
  // The stored shapes: A is m x k or k x m, B is k x n or n x k.
  const std::int64_t a_rows = g.op_a == Op::N ? g.m : g.k, a_cols = g.op_a == Op::N ? g.k : g.m;
  const std::int64_t b_rows = g.op_b == Op::N ? g.k : g.n, b_cols = g.op_b == Op::N ? g.n : g.k;
  float* fa = sa.get(std::size_t(a_rows * a_cols));
  float* fb = sb.get(std::size_t(b_rows * b_cols));
  const bool c_f32 = g.out == DType::f32;
  float* fc = c_f32 ? nullptr : sc.get(std::size_t(g.m) * std::size_t(g.n));
  const auto* a16 = static_cast<const std::uint16_t*>(g.a);
  const auto* b16 = static_cast<const std::uint16_t*>(g.b);

  for (int i = 0; i < g.batch; ++i) {
    // A stride of 0 broadcasts one matrix to the whole batch: convert it once.
    if (i == 0 || g.stride_a != 0) matrix_to_f32(g.in, a16 + i * g.stride_a, g.lda, fa, a_rows, a_cols);
    if (i == 0 || g.stride_b != 0) matrix_to_f32(g.in, b16 + i * g.stride_b, g.ldb, fb, b_rows, b_cols);
    const auto ta = g.op_a == Op::N ? CblasNoTrans : CblasTrans;
    const auto tb = g.op_b == Op::N ? CblasNoTrans : CblasTrans;
    if (c_f32) {
      float* c = static_cast<float*>(g.c) + i * g.stride_c;
      // With beta == 0 OpenBLAS writes C without reading it (a NaN in C does not survive;
      // a test checks this contract).
      cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, fa, int(a_cols), fb, int(b_cols),
                  g.beta, c, int(g.ldc));
    } else {
      auto* c16 = static_cast<std::uint16_t*>(g.c) + i * g.stride_c;
      if (g.beta != 0.0f) matrix_to_f32(g.out, c16, g.ldc, fc, g.m, g.n);
      cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, fa, int(a_cols), fb, int(b_cols),
                  g.beta, fc, g.n);
      matrix_from_f32(g.out, fc, c16, g.ldc, g.m, g.n);
    }
  }
}

}  // namespace halfway
