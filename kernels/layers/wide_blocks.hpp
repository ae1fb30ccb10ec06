/// @file wide_blocks.hpp
/// @brief How the cpu layers' 16-bit loops read and write 16-bit arrays: a block of a few
/// hundred values at a time is widened to fp32 on the stack, computed on in fp32, and
/// rounded back, through chapter 02's bulk conversion (kernels/fp16/convert_array.hpp:
/// F16C where the CPU has it, its plain twin elsewhere).
///
/// The math is the op's own fp32 math on the same exact values (ld widens exactly) with
/// the same one rounding at the end (narrow rounds to nearest even, NaN to 0x7FFF, as
/// st), so the bits are those of the element-by-element ld/st loop; what changes is the
/// cost: 8 conversions an instruction instead of chapter 01's software conversion of one
/// value, and no fp32 copy of the whole array (a block stays in L1).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/fp16/convert_array.hpp"
#include "kernels/layers/precision.hpp"

namespace halfway::layers {

/// Values in one block: 1 KiB of floats per array, a few arrays fit in L1 with room to spare.
inline constexpr std::int64_t kWideBlock = 256;
/// The longest row a row op (softmax, LayerNorm, the loss) widens whole on the stack
/// (16 KiB of floats); a longer row takes the element-by-element path.
inline constexpr int kWideRow = 4096;

/// dst[i] = ld(src[i]) for i in [0, n), exactly. S: half or bfloat16.
template <class S>
void widen(const S* src, float* dst, std::int64_t n) {
  static_assert(is_16bit_v<S>, "widen: a 16-bit storage type");
  convert_to_f32(dtype_of<S>(), reinterpret_cast<const std::uint16_t*>(src), dst, n);
}

/// dst[i] = st<S>(src[i]) for i in [0, n): one rounding to nearest even. S: half or bfloat16.
template <class S>
void narrow(const float* src, S* dst, std::int64_t n) {
  static_assert(is_16bit_v<S>, "narrow: a 16-bit storage type");
  convert_from_f32(dtype_of<S>(), src, reinterpret_cast<std::uint16_t*>(dst), n);
}

/// body(at, count) over [begin, end) in blocks of at most kWideBlock values.
template <class Body>
void for_wide_blocks(std::int64_t begin, std::int64_t end, Body body) {
  for (std::int64_t at = begin; at < end; at += kWideBlock) body(at, std::min(kWideBlock, end - at));
}

}  // namespace halfway::layers
