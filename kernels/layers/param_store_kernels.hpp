/// @file param_store_kernels.hpp
/// @brief The parameter store's whole-model kernels on the emu and cuda backends (see
/// param_store.cu): one launch each over a flat buffer that holds every parameter.
///
/// Pointers are device pointers (host memory under the emulator). A wrapper checks its
/// launch with cudaGetLastError and does not synchronise: the next op runs on the same
/// stream, and a host copy of a result waits for it.
#pragma once

#include <cstdint>

#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"

HALFWAY_KERNEL_API(
  /// The first `bytes` bytes at p to zero (bytes a multiple of 4: the store's buffers are).
  void store_zero(void* p, std::int64_t bytes);
  /// working[i] = st<S>(masters[i]) for i < n: every master rounded into its working copy.
  void store_round(const float* masters, ::halfway::half* working, std::int64_t n);
  void store_round(const float* masters, ::halfway::bfloat16* working, std::int64_t n);
  /// g[i] = st<S>(ld(g[i]) + partial[i]) for i < n: an fp32 partial added into 16-bit gradients.
  void store_accumulate(const float* partial, ::halfway::half* g, std::int64_t n);
  void store_accumulate(const float* partial, ::halfway::bfloat16* g, std::int64_t n);
)
