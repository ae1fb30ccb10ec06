// The bulk conversions between fp32 and the 16-bit formats (convert_array.hpp).
#include "kernels/fp16/convert_array.hpp"

#include <algorithm>
#include <cstring>

#include "common/error.hpp"
#include "common/host_simd.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/fp16/convert_simd.hpp"
#include "kernels/fp16/half.hpp"

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

// AVX-512F: 16 per instruction, two blocks in flight. The same instructions' rounding as
// F16C's (nearest even; NaN fixed to 0x7fff the same way), so the same bits: at the
// layers' blocks of 256 values the 8-wide loop was about 6% of an fp16 step.
__attribute__((target("avx512f,avx,f16c"))) void f16_to_f32_avx512(const std::uint16_t* s, float* d, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 16));
    _mm512_storeu_ps(d + i, _mm512_cvtph_ps(a));
    _mm512_storeu_ps(d + i + 16, _mm512_cvtph_ps(b));
  }
  if (i < n) f16_to_f32_f16c(s + i, d + i, n - i);
}

__attribute__((target("avx512f,avx,f16c"))) void f32_to_f16_avx512(const float* s, std::uint16_t* d, std::int64_t n) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(s + i), b = _mm512_loadu_ps(s + i + 16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm512_cvtps_ph(a, kRound));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i + 16), _mm512_cvtps_ph(b, kRound));
    const std::uint32_t nan = std::uint32_t(_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q)) |
                              std::uint32_t(_mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q)) << 16;
    if (nan)
      for (int j = 0; j < 32; ++j)
        if (nan >> j & 1u) d[i + j] = 0x7fff;
  }
  if (i < n) f32_to_f16_f16c(s + i, d + i, n - i);
}

// bf16 -> float is a 16-bit shift: 16 per instruction pair.
__attribute__((target("avx512f"))) void bf16_to_f32_avx512(const std::uint16_t* s, float* d, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    _mm512_storeu_si512(d + i, _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  for (; i < n; ++i) d[i] = bf16_bits_to_float(s[i]);
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

#if HALFWAY_HOST_SIMD
// 32 floats to 32 bf16 per VCVTNE2PS2BF16 (AVX512-BF16), rounding to nearest even like
// f32_to_bf16_rne. The instruction differs from the course's rule in two places, fixed
// here so the bits are the plain twin's: a NaN keeps its payload (the course's NaN is
// 0x7fff: blended in), and a denormal float reads as zero (the rule rounds it: a block
// with one goes through the plain loop; training values never are, bf16 having fp32's
// exponent range). The integer rule took ~12% of a bf16 training step at 4 lanes.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void f32_to_bf16_avx512bf16(const float* s, std::uint16_t* d,
                                                                                  std::int64_t n) {
  const __m512i exponent = _mm512_set1_epi32(0x7f800000), mantissa = _mm512_set1_epi32(0x007fffff);
  const __m512i nan_bits = _mm512_set1_epi16(0x7fff);
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 lo = _mm512_loadu_ps(s + i), hi = _mm512_loadu_ps(s + i + 16);
    const __m512i lo_i = _mm512_castps_si512(lo), hi_i = _mm512_castps_si512(hi);
    const __mmask16 denormal = (_mm512_testn_epi32_mask(lo_i, exponent) & _mm512_test_epi32_mask(lo_i, mantissa)) |
                               (_mm512_testn_epi32_mask(hi_i, exponent) & _mm512_test_epi32_mask(hi_i, mantissa));
    if (denormal) {
      for (int j = 0; j < 32; ++j) d[i + j] = f32_to_bf16_rne(s[i + j]);
      continue;
    }
    const __mmask32 nan = __mmask32(_mm512_cmp_ps_mask(lo, lo, _CMP_UNORD_Q)) |
                          __mmask32(_mm512_cmp_ps_mask(hi, hi, _CMP_UNORD_Q)) << 16;
    const __m512i r = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // lo's 16 in the low half
    _mm512_storeu_si512(d + i, _mm512_mask_blend_epi16(nan, r, nan_bits));
  }
  for (; i < n; ++i) d[i] = f32_to_bf16_rne(s[i]);
}

// AVX2 CPUs (no AVX-512): bf16 both ways 8 lanes at a time, the rounding by the integer rule
// (convert_simd.hpp), so the bits are f32_to_bf16_rne's. The scalar loop took 7% of a bf16
// step on an AVX2 CPU.
__attribute__((target("avx2,f16c"))) void f32_to_bf16_avx2(const float* s, std::uint16_t* d, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) convert_simd::round_store8(DType::bf16, _mm256_loadu_ps(s + i), d + i);
  for (; i < n; ++i) d[i] = f32_to_bf16_rne(s[i]);
}
__attribute__((target("avx2"))) void bf16_to_f32_avx2(const std::uint16_t* s, float* d, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  for (; i < n; ++i) d[i] = bf16_bits_to_float(s[i]);
}
#endif  // HALFWAY_HOST_SIMD

void to_f32_run(DType in, const std::uint16_t* s, float* d, std::int64_t n) {
  if (in == DType::bf16) {
#if HALFWAY_HOST_SIMD
    if (simd::has(simd::Isa::avx512)) return bf16_to_f32_avx512(s, d, n);
    if (simd::has(simd::Isa::avx2)) return bf16_to_f32_avx2(s, d, n);
#endif
    for (std::int64_t i = 0; i < n; ++i) d[i] = bf16_bits_to_float(s[i]);
  } else {
#if HALFWAY_HOST_SIMD
    if (simd::has(simd::Isa::avx512) && simd::has(simd::Isa::f16c)) return f16_to_f32_avx512(s, d, n);
    if (simd::has(simd::Isa::f16c)) return f16_to_f32_f16c(s, d, n);
#endif
    for (std::int64_t i = 0; i < n; ++i) d[i] = half_bits_to_float(s[i]);
  }
}

void from_f32_run(DType out, const float* s, std::uint16_t* d, std::int64_t n) {
  if (out == DType::bf16) {
#if HALFWAY_HOST_SIMD
    if (simd::has(simd::Isa::avx512bf16)) return f32_to_bf16_avx512bf16(s, d, n);
    if (simd::has(simd::Isa::avx2) && simd::has(simd::Isa::f16c)) return f32_to_bf16_avx2(s, d, n);
#endif
    for (std::int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16_rne(s[i]);
  } else {
#if HALFWAY_HOST_SIMD
    if (simd::has(simd::Isa::avx512) && simd::has(simd::Isa::f16c)) return f32_to_f16_avx512(s, d, n);
    if (simd::has(simd::Isa::f16c)) return f32_to_f16_f16c(s, d, n);
#endif
    for (std::int64_t i = 0; i < n; ++i) d[i] = float_to_half_bits(s[i]);
  }
}

// Parallel conversion only pays for big matrices (worth_threads: one core converts ~4 G
// halves/s with F16C, 0.3 ms for 1024^2, and an OpenMP team started right after an sgemm
// fights OpenBLAS's spinning threads for the cores).
constexpr std::int64_t kBlock = 1 << 14;

}  // namespace

void matrix_to_f32(DType in, const std::uint16_t* src, std::int64_t ld_src, float* dst,
                   std::int64_t rows, std::int64_t cols) {
  const std::int64_t total = rows * cols;
  const bool parallel = worth_threads_elementwise(total);
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
  const bool parallel = worth_threads_elementwise(rows * cols);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t r = 0; r < rows; ++r) from_f32_run(out, src + r * cols, dst + r * ld_dst, cols);
}

// A short array (the layers' blocks of a few hundred values) goes straight to the loop: an
// OpenMP region, even one that runs on one thread, would cost more than its conversion.
void convert_to_f32(DType in, const std::uint16_t* src, float* dst, std::int64_t n) {
  HALFWAY_EXPECT(in == DType::f16 || in == DType::bf16, "a 16-bit type (f16 or bf16)", to_string(in));
  if (n <= kBlock) return to_f32_run(in, src, dst, n);
  matrix_to_f32(in, src, n, dst, 1, n);
}

void convert_from_f32(DType out, const float* src, std::uint16_t* dst, std::int64_t n) {
  HALFWAY_EXPECT(out == DType::f16 || out == DType::bf16, "a 16-bit type (f16 or bf16)", to_string(out));
  if (n <= kBlock) return from_f32_run(out, src, dst, n);
  matrix_from_f32(out, src, dst, n, 1, n);
}

}  // namespace halfway
