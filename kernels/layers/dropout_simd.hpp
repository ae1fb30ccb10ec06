/// @file dropout_simd.hpp
/// @brief The cpu dropout's mask, 64 elements at a time: AVX-512 where the CPU has it, a
/// plain C++ twin with the same bits everywhere else (see common/host_simd.hpp).
///
/// Element i of dropout keeps its value when word i % 4 of Philox block i / 4 (common/
/// rng.hpp), shifted right by 8, is >= p 2^24 (dropout_keep in row_ops.hpp). On integers:
/// word >= threshold = ceil(p 2^24) << 8. A group of 16 consecutive blocks (blocks first ..
/// first + 15) decides 64 consecutive elements 4 first ... 4 first + 63: bit e of the
/// group's mask is element 4 first + e, i.e. word e % 4 of block first + e / 4.
#pragma once

#include <cstdint>

#include "common/host_simd.hpp"
#include "common/rng.hpp"

#if HALFWAY_HOST_SIMD
#include <immintrin.h>
#endif

namespace halfway::layers::mask64 {

// ---- the plain twins ------------------------------------------------------------------------

/// The keep bits of the group of blocks first .. first + 15, one Philox block at a time.
inline std::uint64_t keep_plain(std::uint64_t seed, std::uint64_t first, std::uint32_t threshold) {
  std::uint64_t m = 0;
  for (int l = 0; l < 16; ++l) {
    const rng::Block b = rng::block(seed, first + std::uint64_t(l), rng::kStreamBits);
    for (int j = 0; j < 4; ++j) m |= std::uint64_t(b.v[j] >= threshold) << (4 * l + j);
  }
  return m;
}

/// v[e] = bit e of m ? v[e] * scale : 0 for 64 floats.
inline void apply_plain(float* v, std::uint64_t m, float scale) {
  for (int e = 0; e < 64; ++e) v[e] = (m >> e) & 1u ? v[e] * scale : 0.0f;
}

// ---- AVX-512 ----------------------------------------------------------------------------------
#if HALFWAY_HOST_SIMD

/// The high 32 bits of a * m in each of 16 lanes.
__attribute__((target("avx512f"))) inline __m512i mulhi16(__m512i a, __m512i m) {
  const __m512i even = _mm512_srli_epi64(_mm512_mul_epu32(a, m), 32);  // lanes 0, 2, ...: in the low halves
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);   // lanes 1, 3, ...: in the high halves
  return _mm512_mask_blend_epi32(__mmask16(0xAAAA), even, odd);
}

/// Philox-4x32-10 of 16 consecutive counters (blocks first .. first + 15) at once: the
/// same bijection as rng::philox4x32_10, lane by lane (the 32x32 -> 64-bit products are
/// split into their low halves, _mm512_mullo_epi32, and their high halves, from
/// _mm512_mul_epu32 on the even and the odd lanes). out[j][lane] is word j of block first + lane.
__attribute__((target("avx512f"))) inline void philox16(std::uint64_t seed, std::uint64_t first,
                                                         std::uint32_t out[4][16]) {
  alignas(64) std::uint32_t lo[16], hi[16];
  for (int l = 0; l < 16; ++l) {
    lo[l] = std::uint32_t(first + std::uint64_t(l));
    hi[l] = std::uint32_t((first + std::uint64_t(l)) >> 32);
  }
  __m512i c0 = _mm512_load_si512(lo), c1 = _mm512_load_si512(hi);
  __m512i c2 = _mm512_set1_epi32(int(rng::kStreamBits)), c3 = _mm512_setzero_si512();
  std::uint32_t k0 = std::uint32_t(seed), k1 = std::uint32_t(seed >> 32);
  const __m512i m0 = _mm512_set1_epi32(int(0xD2511F53u)), m1 = _mm512_set1_epi32(int(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const __m512i hi0 = mulhi16(c0, m0), lo0 = _mm512_mullo_epi32(c0, m0);
    const __m512i hi1 = mulhi16(c2, m1), lo1 = _mm512_mullo_epi32(c2, m1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(int(k0)));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(int(k1)));
    c3 = lo0;
  }
  _mm512_storeu_si512(out[0], c0);
  _mm512_storeu_si512(out[1], c1);
  _mm512_storeu_si512(out[2], c2);
  _mm512_storeu_si512(out[3], c3);
}

/// keep_plain's twin: word row j gives 16 compare bits (lane l), which pdep spreads to bits 4 l + j.
__attribute__((target("avx512f,bmi2"))) inline std::uint64_t keep_avx512(std::uint64_t seed, std::uint64_t first,
                                                                          std::uint32_t threshold) {
  std::uint32_t w[4][16];
  philox16(seed, first, w);
  const __m512i t = _mm512_set1_epi32(int(threshold));
  std::uint64_t m = 0;
  for (int j = 0; j < 4; ++j) {
    const __mmask16 k = _mm512_cmpge_epu32_mask(_mm512_loadu_si512(w[j]), t);
    m |= _pdep_u64(std::uint64_t(k), 0x1111111111111111ull << j);
  }
  return m;
}

/// apply_plain's twin: 16 lanes at a time, a masked multiply (zero where the bit is 0).
__attribute__((target("avx512f"))) inline void apply_avx512(float* v, std::uint64_t m, float scale) {
  const __m512 s = _mm512_set1_ps(scale);
  for (int q = 0; q < 4; ++q)
    _mm512_storeu_ps(v + 16 * q, _mm512_maskz_mul_ps(__mmask16(m >> (16 * q)), _mm512_loadu_ps(v + 16 * q), s));
}

#endif  // HALFWAY_HOST_SIMD

// ---- the calls the dropout makes ------------------------------------------------------------

/// Whether keep() and apply() take the AVX-512 path now (ask once per call of the dropout).
inline bool fast() { return simd::has(simd::Isa::avx512); }

/// The keep bits of blocks first .. first + 15 (bit e: element 4 first + e).
inline std::uint64_t keep(bool fast, std::uint64_t seed, std::uint64_t first, std::uint32_t threshold) {
#if HALFWAY_HOST_SIMD
  if (fast) return keep_avx512(seed, first, threshold);
#endif
  (void)fast;
  return keep_plain(seed, first, threshold);
}

/// v[e] = bit e of m ? v[e] * scale : 0 for 64 floats.
inline void apply(bool fast, float* v, std::uint64_t m, float scale) {
#if HALFWAY_HOST_SIMD
  if (fast) return apply_avx512(v, m, scale);
#endif
  (void)fast;
  apply_plain(v, m, scale);
}

}  // namespace halfway::layers::mask64
