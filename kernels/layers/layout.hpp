/// @file layout.hpp
/// @brief The data movement of chapter 03's layers on the emu and cuda backends: splitting
/// rows into attention heads and back, rounding fp32 results to the storage type,
/// accumulating and zeroing. On the cpu these are plain loops; on a GPU a host loop over
/// device memory is impossible, so each is a kernel.
///
/// Pointers are device pointers (host memory under the emulator). Every function checks
/// its launch (a failure is a halfway::Error) and returns without waiting for the kernel.
#pragma once

#include <cstdint>

#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"

/// split_heads: rows [B L, ld] from column c0 -> [B, H, L, dh] (contiguous per head);
/// merge_heads: the inverse, [B, H, L, dh] -> rows [B L, ld] at column offset c0;
/// round_to: dst[i] = st(src[i]) (fp32 -> S, round to nearest even; a copy for float);
/// accumulate: acc[i] += ld(src[i]) in fp32.
#define HALFWAY_LAYOUT_KERNELS_FOR(S)                                                         \
  void split_heads(const S* src, std::int64_t ld, int c0, S* dst, int B, int H, int L, int dh); \
  void merge_heads(const S* src, S* dst, std::int64_t ld, int c0, int B, int H, int L, int dh); \
  void round_to(const float* src, S* dst, std::int64_t n);                                     \
  void accumulate(const S* src, float* acc, std::int64_t n);

HALFWAY_KERNEL_API(
  HALFWAY_LAYOUT_KERNELS_FOR(float)
  HALFWAY_LAYOUT_KERNELS_FOR(::halfway::half)
  HALFWAY_LAYOUT_KERNELS_FOR(::halfway::bfloat16)
  /// n floats to 0.0f (device memory: no host memset on a GPU pointer).
  void fill_zero(float* p, std::int64_t n);
)
