// The packed GEMM's SIMD fp32 paths (gemm_cpu_packed.hpp): AVX2 + FMA (avx2) and AVX-512F
// (fp16 inputs on avx512bf16 and amx). The packing converts 8 halves per F16C instruction
// (bf16: a 16-bit shift) into the fp32 layout the micro-kernels read. Both give the bits
// of the plain twin (gemm_cpu_generic.cpp): sums in the order k = 0, 1, ..., each product
// exact, so an FMA rounds exactly where the plain multiply-then-add does.
#include "common/host_simd.hpp"
#include "kernels/gemm/gemm_cpu_packed.hpp"

#if HALFWAY_HOST_SIMD
#include <immintrin.h>

#include <algorithm>

#include "kernels/gemm/gemm_cpu_f16c.hpp"

namespace halfway {

namespace {

using namespace gemm_f16c;

// fp32 layout, dst[p * R + r] (kp == k: these paths need no padding of K).
template <int R>
HALFWAY_AVX2 void pack_f32(DType in, const std::uint16_t* src, std::int64_t rs, std::int64_t ps, int rows, int k,
                           int, void* out) {
  auto* dst = static_cast<float*>(out);
  if constexpr (R < 8) {
    if (rs == 1) {  // AVX2's 6 rows of A: per p, the rows' pairs of words by one masked load
      const int pairs = rows / 2;
      const __m128i mask = _mm_setr_epi32(-int(pairs > 0), -int(pairs > 1), -int(pairs > 2), -int(pairs > 3));
      for (int p = 0; p < k; ++p) {
        const std::uint16_t* sp = src + p * ps;
        __m128i h = _mm_maskload_epi32(reinterpret_cast<const int*>(sp), mask);  // masked words read as 0
        if (rows % 2) {
          alignas(16) std::uint16_t w[8];
          _mm_store_si128(reinterpret_cast<__m128i*>(w), h);
          w[rows - 1] = sp[rows - 1];
          h = _mm_load_si128(reinterpret_cast<const __m128i*>(w));
        }
        const __m256 v = in == DType::f16 ? _mm256_cvtph_ps(h)
                                          : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        float* d = dst + std::int64_t(p) * R;
        if (p + 1 < k) {
          _mm256_storeu_ps(d, v);  // 8 - R lanes on the next p's rows, which it overwrites
        } else {
          alignas(32) float last[8];
          _mm256_store_ps(last, v);
          std::copy(last, last + R, d);
        }
      }
      return;
    }
  }
  if (rs == 1) {  // a row of the sliver is contiguous for each p: convert it in place
    for (int p = 0; p < k; ++p) {
      float* d = dst + std::int64_t(p) * R;
      convert_run(in, src + p * ps, d, rows);
      std::fill(d + rows, d + R, 0.0f);
    }
    return;
  }
  // Each of the R rows is contiguous along p: 8 x 8 blocks converted and transposed in
  // registers, rows past `rows` read as zeros; the last k % 8 columns one at a time. Where
  // R < 8 (AVX2's 6 rows of A) a block's column is 8 lanes stored at p * R: the 8 - R
  // extra lanes land on the next column's first rows, which its own store then overwrites
  // (the sliver's very last column goes through a buffer instead, not past the end). With
  // the masked loads above, packing AVX2's A slivers fell from 5.1% of an fp16 step to 2.7%
  // (perf, HALFWAY_CPU_ISA=avx2): they went through a scalar loop.
  static_assert(R % 8 == 0 || R < 8, "groups of 8 rows, or one group of fewer");
  const int k8 = k / 8 * 8;
  for (int r0 = 0; r0 < R; r0 += 8) {
    const int valid = std::clamp(rows - r0, 0, 8), lanes = std::min(8, R - r0);
    for (int p0 = 0; p0 < k8; p0 += 8) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = i < valid ? load_convert8(in, src + (r0 + i) * rs + p0) : _mm256_setzero_ps();
      transpose8(v);
      for (int j = 0; j < 8; ++j) {
        float* d = dst + std::int64_t(p0 + j) * R + r0;
        if (lanes == 8 || p0 + j + 1 < k) {
          _mm256_storeu_ps(d, v[j]);
        } else {
          alignas(32) float last[8];
          _mm256_store_ps(last, v[j]);
          std::copy(last, last + lanes, d);
        }
      }
    }
    for (int p = k8; p < k; ++p)
      for (int i = 0; i < lanes; ++i)
        dst[std::int64_t(p) * R + r0 + i] = i < valid ? convert1(in, src[(r0 + i) * rs + p]) : 0.0f;
  }
}

// AVX2: 6 x 16 block, 12 accumulators of 8 lanes.
constexpr int kAvx2Mr = 6, kAvx2Nr = 16;
// Flat and fully unrolled, or GCC keeps a copy of the accumulators on the stack.
[[gnu::always_inline]] HALFWAY_AVX2 inline void sums_avx2(int kp, const float* a, const float* b, __m256* c) {
#pragma GCC unroll 16
  for (int i = 0; i < 2 * kAvx2Mr; ++i) c[i] = _mm256_setzero_ps();
  for (int p = 0; p < kp; ++p) {
    const __m256 b0 = _mm256_load_ps(b + p * kAvx2Nr), b1 = _mm256_load_ps(b + p * kAvx2Nr + 8);
#pragma GCC unroll 16
    for (int i = 0; i < kAvx2Mr; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + p * kAvx2Mr + i);
      c[2 * i] = _mm256_fmadd_ps(ai, b0, c[2 * i]);
      c[2 * i + 1] = _mm256_fmadd_ps(ai, b1, c[2 * i + 1]);
    }
  }
}
HALFWAY_AVX2 void micro_avx2(int kp, const void* a, const void* b, float* tile, std::int64_t ldt) {
  __m256 c[2 * kAvx2Mr];
  sums_avx2(kp, static_cast<const float*>(a), static_cast<const float*>(b), c);
#pragma GCC unroll 16
  for (int i = 0; i < 2 * kAvx2Mr; ++i) _mm256_storeu_ps(tile + i / 2 * ldt + i % 2 * 8, c[i]);
}
// Vector i holds row i / 2, columns (i % 2) * 8 ...: + C, + bias, then stored or rounded.
HALFWAY_AVX2 void micro_fused_avx2(int kp, const void* a, const void* b, void* cv, std::int64_t ldc,
                                   const MicroEpilogue& e) {
  __m256 c[2 * kAvx2Mr];
  sums_avx2(kp, static_cast<const float*>(a), static_cast<const float*>(b), c);
#pragma GCC unroll 16
  for (int i = 0; i < 2 * kAvx2Mr; ++i) {
    const std::int64_t at = i / 2 * ldc + i % 2 * 8;
    __m256 v = c[i];
    if (e.accumulate) v = _mm256_add_ps(_mm256_loadu_ps(static_cast<float*>(cv) + at), v);
    if (e.bias) v = _mm256_add_ps(v, _mm256_loadu_ps(e.bias + i % 2 * 8));
    if (e.out == DType::f32) _mm256_storeu_ps(static_cast<float*>(cv) + at, v);
    else round_store8(e.out, v, static_cast<std::uint16_t*>(cv) + at);
  }
}

// AVX-512: 8 x 32 block, 16 accumulators of 16 lanes.
constexpr int kAvx512Mr = 8, kAvx512Nr = 32;
[[gnu::always_inline]] HALFWAY_AVX512 inline void sums_avx512(int kp, const float* a, const float* b, __m512* c) {
#pragma GCC unroll 32
  for (int i = 0; i < 2 * kAvx512Mr; ++i) c[i] = _mm512_setzero_ps();
  for (int p = 0; p < kp; ++p) {
    const __m512 b0 = _mm512_load_ps(b + p * kAvx512Nr), b1 = _mm512_load_ps(b + p * kAvx512Nr + 16);
#pragma GCC unroll 32
    for (int i = 0; i < kAvx512Mr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[p * kAvx512Mr + i]);
      c[2 * i] = _mm512_fmadd_ps(ai, b0, c[2 * i]);
      c[2 * i + 1] = _mm512_fmadd_ps(ai, b1, c[2 * i + 1]);
    }
  }
}
HALFWAY_AVX512 void micro_avx512(int kp, const void* a, const void* b, float* tile, std::int64_t ldt) {
  __m512 c[2 * kAvx512Mr];
  sums_avx512(kp, static_cast<const float*>(a), static_cast<const float*>(b), c);
#pragma GCC unroll 32
  for (int i = 0; i < 2 * kAvx512Mr; ++i) _mm512_storeu_ps(tile + i / 2 * ldt + i % 2 * 16, c[i]);
}
HALFWAY_AVX512 void micro_fused_avx512(int kp, const void* a, const void* b, void* cv, std::int64_t ldc,
                                       const MicroEpilogue& e) {
  __m512 c[2 * kAvx512Mr];
  sums_avx512(kp, static_cast<const float*>(a), static_cast<const float*>(b), c);
#pragma GCC unroll 32
  for (int i = 0; i < 2 * kAvx512Mr; ++i) {
    const std::int64_t at = i / 2 * ldc + i % 2 * 16;
    __m512 v = c[i];
    if (e.accumulate) v = _mm512_add_ps(_mm512_loadu_ps(static_cast<float*>(cv) + at), v);
    if (e.bias) v = _mm512_add_ps(v, _mm512_loadu_ps(e.bias + i % 2 * 16));
    if (e.out == DType::f32) _mm512_storeu_ps(static_cast<float*>(cv) + at, v);
    else round_store16(e.out, v, static_cast<std::uint16_t*>(cv) + at);
  }
}

}  // namespace

const GemmCpuPath gemm_cpu_paths::avx2{"avx2",       kAvx2Mr,           kAvx2Nr, 1, 4, pack_f32<kAvx2Mr>,
                                       pack_f32<kAvx2Nr>, micro_avx2, micro_fused_avx2};
const GemmCpuPath gemm_cpu_paths::avx512{"avx512 (fp32)",       kAvx512Mr,           kAvx512Nr, 1, 4,
                                         pack_f32<kAvx512Mr>, pack_f32<kAvx512Nr>, micro_avx512, micro_fused_avx512};

}  // namespace halfway

#endif  // HALFWAY_HOST_SIMD
