/// @file numerics.hpp
/// @brief Numerics telemetry: where a tensor's values would land if stored in fp16 or bf16
/// at a given loss scale. Cheap enough to run every N training steps: one kernel launch per
/// tensor and format, six integers back to the host.
///
/// For each value x (fp32, or a 16-bit storage type read exactly) the class of
/// st_F(x * scale), F the format:
///
///   exact_zero   x == 0 (nothing to lose)
///   underflow    x != 0 but st_F(x * scale) == 0: the value is lost
///   subnormal    0 < |st_F(x * scale)| < F's smallest normal: kept with fewer bits
///   normal       F's full precision
///   overflow     x finite but st_F(x * scale) = +-inf
///   nonfinite    x is already inf or NaN
///
/// (fp16: smallest subnormal 2^-24, smallest normal 2^-14, largest 65504; bf16: 2^-133,
/// 2^-126, ~3.39e38; chapter 01 derives them.)
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/backend.hpp"
#include "common/dtype.hpp"
#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"

namespace halfway::amp {

/// The six counts, in the order above.
struct RangeCounts {
  static constexpr int kClasses = 6;
  std::array<std::int64_t, kClasses> n{};
  std::int64_t exact_zero() const { return n[0]; }
  std::int64_t underflow() const { return n[1]; }
  std::int64_t subnormal() const { return n[2]; }
  std::int64_t normal() const { return n[3]; }
  std::int64_t overflow() const { return n[4]; }
  std::int64_t nonfinite() const { return n[5]; }
  std::int64_t total() const;
  /// Share of the total (0 for an empty tensor).
  double share(int k) const;
  RangeCounts& operator+=(const RangeCounts& o);
};
/// "exact_zero", "underflow", "subnormal", "normal", "overflow", "nonfinite".
const char* range_class_name(int k);

/// Counts for n values of type `in` (f32, f16 or bf16) at `x` in `b`'s memory, stored in
/// `format` (f16 or bf16) after multiplying by `scale`. `device_counts` is the caller's
/// workspace of RangeCounts::kClasses unsigned long longs in device memory (unused on the
/// cpu). The host reads six integers, nothing else.
RangeCounts count_ranges(Backend b, DType in, const void* x, std::int64_t n, DType format, float scale,
                         unsigned long long* device_counts);

}  // namespace halfway::amp

/// The kernel: counts[0..5] += the six classes (counts must start at 0).
HALFWAY_KERNEL_API(
  void count_ranges(const float* x, std::int64_t n, bool to_bf16, float scale, unsigned long long* counts);
  void count_ranges(const ::halfway::half* x, std::int64_t n, bool to_bf16, float scale, unsigned long long* counts);
  void count_ranges(const ::halfway::bfloat16* x, std::int64_t n, bool to_bf16, float scale, unsigned long long* counts);
)
