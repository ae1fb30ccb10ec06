/// @file bits.hpp
/// @brief Reading a float as its 32 bits and back, in host code and in kernels.
///
/// The conversions of chapter 01 work on bit patterns. Copying the bytes (never a pointer
/// cast, which breaks C++'s aliasing rules) is the portable way; compilers turn it into a
/// plain register move.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/hd.hpp"

namespace halfway {

/// The 32 bits of a float: sign (1), biased exponent (8), mantissa (23).
HALFWAY_HD_INLINE std::uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

/// The float whose 32 bits are `u`.
HALFWAY_HD_INLINE float bits_to_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

}  // namespace halfway
