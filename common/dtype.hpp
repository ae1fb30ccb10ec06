/// @file dtype.hpp
/// @brief The element types of the course's arrays: f32, f16 and bf16.
///
/// Includable from kernels (nvcc and the emulator build): the constexpr helpers are
/// `HALFWAY_HD`, so a kernel can ask `size_of(dtype)` or print `to_string(dtype)`.
/// The half types themselves come from chapter 01; until then, and in every API between
/// host code and storage, a 16-bit value is stored as its bit pattern (`std::uint16_t`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/hd.hpp"

namespace halfway {

/// The storage type of an array's elements (a GEMM operand, a buffer's contents).
enum class DType : std::uint8_t {
  f32,   ///< IEEE binary32 (`float`): master weights, reductions, the fp32 mode.
  f16,   ///< IEEE binary16: 5 exponent bits, 10 mantissa bits (stored as its bits).
  bf16,  ///< bfloat16: float's 8 exponent bits, 7 mantissa bits (stored as its bits).
};

/// Bytes per element: 4 for f32, 2 for f16 and bf16.
HALFWAY_HD_INLINE constexpr std::size_t size_of(DType t) { return t == DType::f32 ? 4 : 2; }

/// "f32", "f16" or "bf16". A C string so that device code can print it too.
HALFWAY_HD_INLINE constexpr const char* to_string(DType t) {
  return t == DType::f32 ? "f32" : t == DType::f16 ? "f16" : t == DType::bf16 ? "bf16" : "?";
}

/// Parses "f32", "f16" or "bf16" (also "fp32", "float32", "float", "fp16", "float16",
/// "half", "bfloat16"),
/// for command-line options. Throws halfway::UsageError naming the accepted names.
/// Host only (common/host/dtype.cpp).
DType parse_dtype(std::string_view name);

}  // namespace halfway
