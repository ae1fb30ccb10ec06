/// @file rng.hpp
/// @brief Counter-based random numbers: the same value for the same (seed, offset) on the
/// host, in the emulator and on the GPU.
///
/// A kernel thread cannot share a sequential generator with its neighbours, and a test
/// must reproduce on the CPU exactly what the GPU drew. So every number here is a pure
/// function of `(seed, offset)`: element `i` of a tensor uses offset `i`, whichever thread
/// or backend computes it, and the numbers never depend on launch shape or order.
///
/// The generator is Philox-4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers:
/// as easy as 1, 2, 3", SC'11), the one cuRAND and JAX use; the tests check it against the
/// known-answer vectors of the authors' Random123 library. The 64-bit seed is the Philox
/// key, the 64-bit offset the low half of the 128-bit counter; the counter's third word
/// names the stream (0: bits/uniform/keep, 1: normal), so normal() and uniform() with the
/// same (seed, offset) are independent.
///
/// Floating point: uniform() is exact (24 random bits times 2^-24). normal() needs a
/// logarithm and a cosine, and the libraries' `logf`/`cosf` differ between glibc and CUDA
/// by an ulp here and there. So normal() evaluates its own polynomials, and every
/// operation is one that IEEE 754 rounds the same way everywhere: `+ - * /`, `sqrt`, and an
/// explicit fused multiply-add for every product that is summed (`__fmaf_rn` on the GPU,
/// `std::fma` on the host). No product feeds an addition outside an explicit fma, so the
/// compilers' fma contraction (nvcc's default, or g++ with FMA enabled) cannot change a
/// result. The device path uses the `_rn` intrinsics so `--use_fast_math` cannot either,
/// and no intermediate value is subnormal, so flushing them to zero changes nothing.
/// The result is bit-identical on the host, the emulator and the GPU, and within a few
/// ulps of the exact Box-Muller value (the tests bound it).
#pragma once

#include <cstdint>

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

#include "common/hd.hpp"

namespace halfway::rng {

/// One Philox output block: four 32-bit words.
struct Block {
  std::uint32_t v[4];
};

/// The Philox-4x32 bijection with 10 rounds, as in Random123's `philox4x32_R(10, ctr, key)`.
HALFWAY_HD_INLINE Block philox4x32_10(Block ctr, std::uint32_t key0, std::uint32_t key1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key schedule (Weyl)
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kW0;
      key1 += kW1;
    }
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * ctr.v[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * ctr.v[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = Block{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
  }
  return ctr;
}

/// Streams: the third counter word, so that different kinds of draws never share bits.
inline constexpr std::uint32_t kStreamBits = 0;    ///< bits(), uniform(), keep()
inline constexpr std::uint32_t kStreamNormal = 1;  ///< normal()

/// The Philox block for (seed, offset) in a stream: the one place keys and counters are laid out.
HALFWAY_HD_INLINE Block block(std::uint64_t seed, std::uint64_t offset, std::uint32_t stream) {
  return philox4x32_10(Block{{static_cast<std::uint32_t>(offset),
                              static_cast<std::uint32_t>(offset >> 32), stream, 0u}},
                       static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

/// 32 uniformly distributed random bits for (seed, offset).
HALFWAY_HD_INLINE std::uint32_t bits(std::uint64_t seed, std::uint64_t offset) {
  return block(seed, offset, kStreamBits).v[0];
}

/// A uniform float in [0, 1): the top 24 bits of bits(seed, offset) times 2^-24, so every
/// value is a multiple of 2^-24, exact in float, and 1 is never returned.
HALFWAY_HD_INLINE float uniform(std::uint64_t seed, std::uint64_t offset) {
  return static_cast<float>(bits(seed, offset) >> 8) * 5.9604644775390625e-8f;  // 2^-24
}

/// Dropout's mask: true (keep the element) with probability 1 - p_drop, i.e. when
/// uniform(seed, offset) >= p_drop. p_drop = 0 keeps everything, p_drop = 1 nothing.
/// It shares uniform()'s stream: give dropout its own seed (see derive_seed()).
HALFWAY_HD_INLINE bool keep(std::uint64_t seed, std::uint64_t offset, float p_drop) {
  return uniform(seed, offset) >= p_drop;
}

/// A new seed for a named purpose ("layer 3 dropout", "step 17"), by the SplitMix64
/// finaliser of seed and tag, so that purposes drawn from one user seed do not overlap.
HALFWAY_HD_INLINE std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t tag) {
  std::uint64_t z = seed ^ (tag * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Float operations rounded identically on every backend (see the file's description).
namespace detail {

HALFWAY_HD_INLINE float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
HALFWAY_HD_INLINE float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
HALFWAY_HD_INLINE float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
HALFWAY_HD_INLINE float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
HALFWAY_HD_INLINE float sqrt_rn(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

/// ln(n * 2^-24) for an integer n in [1, 2^24], to about 2 ulp: n = m * 2^e with m in
/// [sqrt(1/2), sqrt(2)) (frexpf and the doubling are exact), then
/// ln m = 2 atanh(s) = 2s (1 + s^2/3 + s^4/5 + s^6/7 + s^8/9 + ...), s = (m - 1)/(m + 1),
/// |s| <= 0.1716, so the first omitted term is below 1e-9 of ln m.
HALFWAY_HD_INLINE float log_n_times_2_pow_minus_24(std::uint32_t n) {
  int e = 0;
#if defined(__CUDA_ARCH__)
  float m = frexpf(static_cast<float>(n), &e);  // m in [0.5, 1)
#else
  float m = std::frexp(static_cast<float>(n), &e);
#endif
  if (m < 0.70710678118654752f) {
    m = mul_rn(m, 2.0f);
    e -= 1;
  }
  const float s = div_rn(add_rn(m, -1.0f), add_rn(m, 1.0f));  // m - 1 is exact (Sterbenz)
  const float z = mul_rn(s, s);
  float r = fma_rn(z, 0.111111111111111111f, 0.142857142857142857f);
  r = fma_rn(z, r, 0.2f);
  r = fma_rn(z, r, 0.333333333333333333f);
  r = mul_rn(r, z);
  const float t = mul_rn(s, 2.0f);
  const float log_m = fma_rn(t, r, t);
  // (e - 24) ln 2 with ln 2 split in a short head (exact products) and a tail.
  const float k = static_cast<float>(e - 24);
  return fma_rn(k, 0.693145751953125f, fma_rn(k, 1.428606820309417232e-6f, log_m));
}

/// cos(2 pi j / 2^24) for an integer j in [0, 2^24), to a few ulp. The quarter turn q
/// nearest the angle is taken out in integers (exact), leaving |a| <= pi/4, where the
/// Taylor series of cos and sin to a^10 and a^9 are accurate to 2e-9.
HALFWAY_HD_INLINE float cos_turns_2_pow_24(std::uint32_t j) {
  const std::uint32_t q = (j + (1u << 21)) >> 22;  // nearest quarter turn, 0..4
  const std::int32_t f = static_cast<std::int32_t>(j) - static_cast<std::int32_t>(q << 22);
  const float a = mul_rn(static_cast<float>(f), 3.7450702829239054e-7f);  // 2 pi / 2^24
  const float w = mul_rn(a, a);
  float c = fma_rn(w, -2.7557319223985893e-7f, 2.4801587301587302e-5f);
  c = fma_rn(w, c, -1.3888888888888889e-3f);
  c = fma_rn(w, c, 4.1666666666666667e-2f);
  c = fma_rn(w, c, -0.5f);
  c = fma_rn(w, c, 1.0f);
  float s = fma_rn(w, 2.7557319223985891e-6f, -1.9841269841269841e-4f);
  s = fma_rn(w, s, 8.3333333333333333e-3f);
  s = fma_rn(w, s, -0.16666666666666667f);
  s = mul_rn(s, w);
  s = fma_rn(a, s, a);
  switch (q & 3u) {
    case 0: return c;
    case 1: return -s;
    case 2: return -c;
    default: return s;
  }
}

}  // namespace detail

/// A standard normal float for (seed, offset), by Box-Muller on two words of one Philox
/// block (stream kStreamNormal): u1 = (n + 1) 2^-24 in (0, 1] from the first word's top
/// 24 bits, angle = 2 pi j 2^-24 from the second's, result sqrt(-2 ln u1) cos(angle).
/// Bit-identical on every backend (see above); |result| <= sqrt(48 ln 2) ~ 5.77.
HALFWAY_HD_INLINE float normal(std::uint64_t seed, std::uint64_t offset) {
  const Block b = block(seed, offset, kStreamNormal);
  const float log_u1 = detail::log_n_times_2_pow_minus_24((b.v[0] >> 8) + 1u);
  const float radius = detail::sqrt_rn(detail::mul_rn(log_u1, -2.0f));
  return detail::mul_rn(radius, detail::cos_turns_2_pow_24(b.v[1] >> 8));
}

}  // namespace halfway::rng
