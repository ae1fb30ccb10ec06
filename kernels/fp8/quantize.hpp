/// @file quantize.hpp
/// @brief The fp8 casts as kernels (emu and cuda) and their dispatch: fp8(x * scale),
/// saturating, and back as float(q) * inv_scale.
///
/// The kernels run the same conversion code as the host (kernels/fp8/fp8.hpp), so a value
/// gets the same fp8 bits on cpu, emu and cuda. They count nothing: the telemetry of
/// scaling.hpp's host casts (QuantStats) is the cpu's.
#pragma once

#include <cstdint>

#include "common/backend.hpp"
#include "common/hd.hpp"
#include "kernels/fp8/format.hpp"

HALFWAY_KERNEL_API(
  void quantize_fp8(const float* x, std::int64_t n, float scale, halfway::Fp8Format format, std::uint8_t* out);
  void dequantize_fp8(const std::uint8_t* q, std::int64_t n, float inv_scale, halfway::Fp8Format format, float* out);
)

namespace halfway::fp8 {

/// out = fp8(x * scale) on `backend` (device memory on emu and cuda).
void quantize(Backend backend, const float* x, std::int64_t n, float scale, Fp8Format format, std::uint8_t* out);
/// out = float(q) * inv_scale on `backend`.
void dequantize(Backend backend, const std::uint8_t* q, std::int64_t n, float inv_scale, Fp8Format format, float* out);

}  // namespace halfway::fp8
