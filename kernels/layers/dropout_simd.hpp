/// @file dropout_simd.hpp
/// @brief The cpu dropout's mask, 64 elements at a time: AVX-512 where the CPU has it, else
/// AVX2, and a plain C++ twin with the same bits everywhere else (see common/host_simd.hpp).
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

// ---- AVX2 (most laptops: without it the mask took a sixth of an AVX2 CPU's step) -------------

/// The high 32 bits of a * m in each of 8 lanes (mulhi16's way).
__attribute__((target("avx2"))) inline __m256i mulhi8(__m256i a, __m256i m) {
  const __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(a, m), 32);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  return _mm256_blend_epi32(even, odd, 0xAA);
}

/// philox16's 8-lane twin: out[j][lane] is word j of block first + lane, lane < 8.
__attribute__((target("avx2"))) inline void philox8(std::uint64_t seed, std::uint64_t first, std::uint32_t out[4][8]) {
  alignas(32) std::uint32_t lo[8], hi[8];
  for (int l = 0; l < 8; ++l) {
    lo[l] = std::uint32_t(first + std::uint64_t(l));
    hi[l] = std::uint32_t((first + std::uint64_t(l)) >> 32);
  }
  __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
  __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
  __m256i c2 = _mm256_set1_epi32(int(rng::kStreamBits)), c3 = _mm256_setzero_si256();
  std::uint32_t k0 = std::uint32_t(seed), k1 = std::uint32_t(seed >> 32);
  const __m256i m0 = _mm256_set1_epi32(int(0xD2511F53u)), m1 = _mm256_set1_epi32(int(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const __m256i hi0 = mulhi8(c0, m0), lo0 = _mm256_mullo_epi32(c0, m0);
    const __m256i hi1 = mulhi8(c2, m1), lo1 = _mm256_mullo_epi32(c2, m1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(int(k0)));
    c1 = lo1;
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(int(k1)));
    c3 = lo0;
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[0]), c0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[1]), c1);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[2]), c2);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[3]), c3);
}

/// keep_plain's AVX2 twin: two Philox octets; AVX2 has no unsigned compare, and
/// w >= t is max(w, t) == w.
__attribute__((target("avx2,bmi2"))) inline std::uint64_t keep_avx2(std::uint64_t seed, std::uint64_t first,
                                                                     std::uint32_t threshold) {
  std::uint32_t w[2][4][8];
  philox8(seed, first, w[0]);
  philox8(seed, first + 8, w[1]);
  const __m256i t = _mm256_set1_epi32(int(threshold));
  std::uint64_t m = 0;
  for (int j = 0; j < 4; ++j) {
    unsigned k = 0;  // bit l: block first + l's word j passes
    for (int h = 0; h < 2; ++h) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[h][j]));
      const __m256i ge = _mm256_cmpeq_epi32(_mm256_max_epu32(v, t), v);
      k |= unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(ge))) << (8 * h);
    }
    m |= _pdep_u64(std::uint64_t(k), 0x1111111111111111ull << j);
  }
  return m;
}

/// apply_plain's AVX2 twin: 8 lanes at a time, the product ANDed with the bit's lane mask
/// (all ones or +0.0f's zero bits: the plain twin's v * scale or 0.0f).
__attribute__((target("avx2"))) inline void apply_avx2(float* v, std::uint64_t m, float scale) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  for (int q = 0; q < 8; ++q) {
    const __m256i bits = _mm256_and_si256(_mm256_set1_epi32(int((m >> (8 * q)) & 0xffu)), lane_bit);
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpeq_epi32(bits, lane_bit));
    _mm256_storeu_ps(v + 8 * q, _mm256_and_ps(_mm256_mul_ps(_mm256_loadu_ps(v + 8 * q), s), keep));
  }
}

#endif  // HALFWAY_HOST_SIMD

// ---- the calls the dropout makes ------------------------------------------------------------

/// Which twin keep() and apply() take.
enum class Path { plain, avx2, avx512 };

/// The path to take now: the widest the CPU has (ask once per call of the dropout).
inline Path path() {
  if (simd::has(simd::Isa::avx512)) return Path::avx512;
  if (simd::has(simd::Isa::avx2)) return Path::avx2;
  return Path::plain;
}

/// The keep bits of blocks first .. first + 15 (bit e: element 4 first + e).
inline std::uint64_t keep(Path path, std::uint64_t seed, std::uint64_t first, std::uint32_t threshold) {
#if HALFWAY_HOST_SIMD
  if (path == Path::avx512) return keep_avx512(seed, first, threshold);
  if (path == Path::avx2) return keep_avx2(seed, first, threshold);
#endif
  (void)path;
  return keep_plain(seed, first, threshold);
}

/// v[e] = bit e of m ? v[e] * scale : 0 for 64 floats.
inline void apply(Path path, float* v, std::uint64_t m, float scale) {
#if HALFWAY_HOST_SIMD
  if (path == Path::avx512) return apply_avx512(v, m, scale);
  if (path == Path::avx2) return apply_avx2(v, m, scale);
#endif
  (void)path;
  apply_plain(v, m, scale);
}

}  // namespace halfway::layers::mask64
