/// @file cast.hpp
/// @brief Array casts between fp32 and the 16-bit formats, on every backend.
///
/// The forward casts (fp32 to fp16 or bf16) round to nearest even with chapter 01's
/// conversions and count what the narrow format could not hold: values that overflowed to
/// inf and values that flushed to zero. Later chapters use them to make the fp16 working
/// copy of the weights and to store loss-scaled gradients. The backward casts are exact.
///
/// Every backend gives the same bits, NaN included (the kernels use the hand-written
/// conversions on the GPU too, not the hardware's, so even NaN bits agree).
///
/// Pointers live where the backend computes: host memory for `cpu` and `emu` (the
/// emulator's device memory is host memory), device memory for `cuda`. `counts` is always
/// host memory, may be null, and is overwritten with the counts of this call. On emu and
/// cuda the kernel counts into `device_counts`, the caller's workspace of kCastCounters
/// unsigned long longs in the backend's memory (a cast allocates nothing; the cpu ignores
/// it): it is required when `counts` is asked for there. Any length and any alignment
/// work; 8-byte aligned floats with 4-byte aligned halves take the vectorised path (two
/// values per thread, one `half2` store). On cuda a cast is asynchronous like a kernel
/// launch (the copy that brings its result to the host waits for it), except when
/// `counts` is asked for: reading them waits for the kernel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/backend.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"

namespace halfway {

/// What a cast to a 16-bit format lost.
struct CastCounts {
  std::uint64_t overflow = 0;   ///< finite inputs that became +-inf
  std::uint64_t flushed = 0;    ///< nonzero finite inputs that became +-0
  std::uint64_t subnormal = 0;  ///< outputs that are subnormal (fewer significant bits)

  CastCounts& operator+=(const CastCounts& o) {
    overflow += o.overflow;
    flushed += o.flushed;
    subnormal += o.subnormal;
    return *this;
  }
  friend bool operator==(const CastCounts&, const CastCounts&) = default;
};
/// The counters a counted cast on a device needs in its workspace (one per CastCounts field).
inline constexpr std::size_t kCastCounters = 3;

/// Bit 0: overflowed, bit 1: flushed to zero, bit 2: subnormal result; for one value `in`
/// cast to the fp16 bits `out`.
HALFWAY_HD inline unsigned cast_outcome_f16(float in, std::uint16_t out) {
  const std::uint32_t a = float_to_bits(in) & 0x7FFFFFFFu;
  const std::uint32_t o = out & 0x7FFFu;
  return (a < 0x7F800000u && o == 0x7C00u ? 1u : 0u) | (a != 0 && o == 0 ? 2u : 0u) |
         (o != 0 && o < 0x0400u ? 4u : 0u);
}
/// The same for a cast to the bf16 bits `out`.
HALFWAY_HD inline unsigned cast_outcome_bf16(float in, std::uint16_t out) {
  const std::uint32_t a = float_to_bits(in) & 0x7FFFFFFFu;
  const std::uint32_t o = out & 0x7FFFu;
  return (a < 0x7F800000u && o == 0x7F80u ? 1u : 0u) | (a != 0 && o == 0 ? 2u : 0u) |
         (o != 0 && o < 0x0080u ? 4u : 0u);
}

}  // namespace halfway

// The kernels, as launched by the emulator (halfway::emu) and on the GPU (halfway::gpu).
// `counts`: null, or kCastCounters counters in device memory that the narrowing casts add
// overflow, flushed and subnormal to (zero them first). Return after the launch, without
// waiting.
HALFWAY_KERNEL_API(
  void cast_f32_to_f16(const float* in, half* out, std::size_t n, unsigned long long* counts = nullptr);
  void cast_f32_to_bf16(const float* in, bfloat16* out, std::size_t n, unsigned long long* counts = nullptr);
  void cast_f16_to_f32(const half* in, float* out, std::size_t n);
  void cast_bf16_to_f32(const bfloat16* in, float* out, std::size_t n);
)

// The host implementation (OpenMP): the oracle of the kernels and the cpu backend.
namespace halfway::cpu {
void cast_f32_to_f16(const float* in, half* out, std::size_t n, CastCounts* counts = nullptr);
void cast_f32_to_bf16(const float* in, bfloat16* out, std::size_t n, CastCounts* counts = nullptr);
void cast_f16_to_f32(const half* in, float* out, std::size_t n);
void cast_bf16_to_f32(const bfloat16* in, float* out, std::size_t n);
}  // namespace halfway::cpu

// Pick the implementation by backend. `cuda` throws Error in a build without CUDA; counts
// asked on emu or cuda without `device_counts` throw Error.
namespace halfway {
void cast_f32_to_f16(Backend backend, const float* in, half* out, std::size_t n,
                     CastCounts* counts = nullptr, unsigned long long* device_counts = nullptr);
void cast_f32_to_bf16(Backend backend, const float* in, bfloat16* out, std::size_t n,
                      CastCounts* counts = nullptr, unsigned long long* device_counts = nullptr);
void cast_f16_to_f32(Backend backend, const half* in, float* out, std::size_t n);
void cast_bf16_to_f32(Backend backend, const bfloat16* in, float* out, std::size_t n);
}  // namespace halfway
