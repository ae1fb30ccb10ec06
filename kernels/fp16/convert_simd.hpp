/// @file convert_simd.hpp
/// @brief fp32 to 16-bit rounding of one register, 8 floats (AVX2 + F16C) or 16 (AVX-512F),
/// with the bits of convert_from_f32 (convert_array.hpp): round to nearest even, a NaN as
/// the course's 0x7fff. Shared by the bulk conversion (convert_array.cpp) and the cpu
/// GEMM's fused epilogue (kernels/gemm/gemm_cpu_fp32_simd.cpp). Only where
/// HALFWAY_HOST_SIMD is 1; each function carries its own `target`.
#pragma once

#include "common/host_simd.hpp"

#if HALFWAY_HOST_SIMD
#include <immintrin.h>

#include <cstdint>

#include "common/dtype.hpp"

namespace halfway::convert_simd {

// 8 floats rounded to 8 16-bit words and stored, with the bits of convert_from_f32
// (kernels/fp16/convert_array.hpp): nearest even, a NaN as the course's 0x7fff. fp16 by
// F16C; bf16 by the integer rule u + 0x7fff + (bit 16 of u), then the high half.
__attribute__((target("avx2,f16c"))) inline void round_store8(DType out, __m256 v, std::uint16_t* d) {
  const int nan = _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  __m128i w;
  if (out == DType::f16) {
    w = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  } else {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), odd)), 16);
    w = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));  // each < 2^16: exact
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), w);
  if (nan)
    for (int j = 0; j < 8; ++j)
      if (nan >> j & 1) d[j] = 0x7fff;
}

// The same for 16 floats with AVX-512F.
__attribute__((target("avx512f,avx2,f16c"))) inline void round_store16(DType out, __m512 v, std::uint16_t* d) {
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  __m256i w;
  if (out == DType::f16) {
    w = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  } else {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    w = _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd)), 16));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), w);
  if (nan)
    for (int j = 0; j < 16; ++j)
      if (nan >> j & 1) d[j] = 0x7fff;
}

}  // namespace halfway::convert_simd

#endif  // HALFWAY_HOST_SIMD
