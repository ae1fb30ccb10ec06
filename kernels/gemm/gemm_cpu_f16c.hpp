/// @file gemm_cpu_f16c.hpp
/// @brief The 16-bit to fp32 conversions and the 8 x 8 transpose that the cpu GEMM's SIMD
/// fp32 code shares (the packed paths' packing, gemm_cpu_fp32_simd.cpp, and the small-
/// product path's widening, gemm_cpu_small_simd.cpp): 8 halves per F16C instruction, bf16
/// a 16-bit shift, exact either way. Only where HALFWAY_HOST_SIMD is 1; each function is
/// compiled for AVX2 + FMA + F16C by its `target` attribute, the rest of the binary is not.
#pragma once

#include "common/host_simd.hpp"

#if HALFWAY_HOST_SIMD
#include <immintrin.h>

#include <cstdint>

#include "common/dtype.hpp"
#include "kernels/fp16/convert_simd.hpp"

#define HALFWAY_AVX2 __attribute__((target("avx2,fma,f16c")))
#define HALFWAY_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

namespace halfway::gemm_f16c {

using convert_simd::round_store16;
using convert_simd::round_store8;

// 8 values to 8 floats in a register.
HALFWAY_AVX2 inline __m256 load_convert8(DType in, const std::uint16_t* s) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  return in == DType::f16 ? _mm256_cvtph_ps(h) : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

HALFWAY_AVX2 inline void convert8(DType in, const std::uint16_t* s, float* d) {
  _mm256_storeu_ps(d, load_convert8(in, s));
}

HALFWAY_AVX2 inline float convert1(DType in, std::uint16_t v) {
  return in == DType::f16 ? _cvtsh_ss(v) : _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(int(v) << 16)));
}

// n values, 8 at a time, then one at a time.
HALFWAY_AVX2 inline void convert_run(DType in, const std::uint16_t* s, float* d, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) convert8(in, s + i, d + i);
  for (; i < n; ++i) d[i] = convert1(in, s[i]);
}

// 8 rows of 8 floats transposed in registers: out[j] = column j of the rows in[0..7].
HALFWAY_AVX2 inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

}  // namespace halfway::gemm_f16c

#endif  // HALFWAY_HOST_SIMD
