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
// laptop; done with F16C (8 halves per instruction), over cache-sized blocks, in parallel,
// into a reused buffer, they cost a few percent.
#include <immintrin.h>
#include <omp.h>

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/error.hpp"
#include "kernels/gemm/gemm.hpp"

namespace halfway {

namespace {

// ---- scalar conversions (the fallback, and the tails of the vector loops) --------------

float f16_bits_to_f32(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t man = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);  // inf or NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int shift = 0;
    while ((man & 0x400u) == 0) { man <<= 1; ++shift; }
    bits = sign | (std::uint32_t(113 - shift) << 23) | ((man & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t f32_to_f16_bits(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
  const std::uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return 0x7fff;                    // NaN (CUDA's canonical NaN)
  if (ax >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // >= 65520: inf
  if (ax < 0x38800000u) {                                 // below 2^-14: subnormal or 0
    // value = ax as float; the subnormal unit is 2^-24: round(value * 2^24), ties to even.
    float v;
    std::memcpy(&v, &ax, 4);
    const float scaled = v * 16777216.0f;  // exact (power of two), < 1024
    const std::uint32_t r = std::uint32_t(std::nearbyint(scaled));  // default mode: ties to even
    return std::uint16_t(sign | r);
  }
  // normal: rebias, round the 13 dropped bits to nearest even (a carry may bump the exponent)
  std::uint32_t h = ((ax - 0x38000000u) >> 13);
  const std::uint32_t rest = ax & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return std::uint16_t(sign | h);
}

float bf16_bits_to_f32(std::uint16_t h) {
  const std::uint32_t bits = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t f32_to_bf16_bits(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fff;  // NaN
  x += 0x7fffu + ((x >> 16) & 1u);                       // round to nearest even
  return std::uint16_t(x >> 16);
}

// ---- vector conversions ----------------------------------------------------------------

__attribute__((target("avx,f16c"))) void f16_to_f32_f16c(const std::uint16_t* s, float* d,
                                                         std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) d[i] = f16_bits_to_f32(s[i]);
}

__attribute__((target("avx,f16c"))) void f32_to_f16_f16c(const float* s, std::uint16_t* d,
                                                         std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(s + i);
    // F16C keeps a NaN's payload; the course's policy is CUDA's canonical 0x7fff.
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (!_mm256_testz_ps(nan, nan)) {
      for (int j = 0; j < 8; ++j) d[i + j] = f32_to_f16_bits(s[i + j]);
      continue;
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), h);
  }
  for (; i < n; ++i) d[i] = f32_to_f16_bits(s[i]);
}

void bf16_to_f32_loop(const std::uint16_t* s, float* d, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) d[i] = bf16_bits_to_f32(s[i]);  // vectorised by g++
}

void f32_to_bf16_loop(const float* s, std::uint16_t* d, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16_bits(s[i]);
}

bool have_f16c() {
  static const bool yes = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return yes;
}

void to_f32_run(DType in, const std::uint16_t* s, float* d, std::int64_t n) {
  if (in == DType::bf16) {
    bf16_to_f32_loop(s, d, n);
  } else if (have_f16c()) {
    f16_to_f32_f16c(s, d, n);
  } else {
    for (std::int64_t i = 0; i < n; ++i) d[i] = f16_bits_to_f32(s[i]);
  }
}

void from_f32_run(DType out, const float* s, std::uint16_t* d, std::int64_t n) {
  if (out == DType::bf16) {
    f32_to_bf16_loop(s, d, n);
  } else if (have_f16c()) {
    f32_to_f16_f16c(s, d, n);
  } else {
    for (std::int64_t i = 0; i < n; ++i) d[i] = f32_to_f16_bits(s[i]);
  }
}

// Blocks of about 16 KiB of output per task: big enough to amortise the loop, small
// enough to spread a 1024x1024 matrix over every core with room for load balance.
constexpr std::int64_t kBlock = 4096;

// Converts a rows x cols matrix (leading dimension ld_src) into a tight fp32 matrix.
void matrix_to_f32(DType in, const std::uint16_t* src, std::int64_t ld_src, float* dst,
                   std::int64_t rows, std::int64_t cols) {
  const std::int64_t total = rows * cols;
  const bool parallel = total >= 4 * kBlock && omp_get_max_threads() > 1;
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
  const bool parallel = rows * cols >= 4 * kBlock && omp_get_max_threads() > 1;
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
