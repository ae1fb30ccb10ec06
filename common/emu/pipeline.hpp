/// @file pipeline.hpp
/// @brief The cp.async primitives of cuda_pipeline.h, executed synchronously.
///
/// __pipeline_memcpy_async copies at once, so __pipeline_commit and __pipeline_wait_prior
/// have nothing left to do: a kernel that forgets to wait still works here and fails on a
/// GPU. The size and alignment rules of cp.async are checked (4, 8 or 16 bytes, both
/// pointers aligned to the size). libcu++'s cuda::memcpy_async / cuda::pipeline and inline
/// PTX (cp.async.*) are not emulated: kernels use these primitives instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <string>

#include "common/emu/scheduler.hpp"

namespace halfway::simt {

/// Copies `size_and_align` bytes from global src to shared dst; the last `zfill` of them
/// are written as zeros instead of read (for ragged edges).
inline void __pipeline_memcpy_async(void* dst_shared, const void* src_global, std::size_t size_and_align,
                                    std::size_t zfill = 0,
                                    std::source_location loc = std::source_location::current()) {
  const std::size_t n = size_and_align;
  if (n != 4 && n != 8 && n != 16)
    detail::kernel_fail("__pipeline_memcpy_async of " + std::to_string(n) + " bytes (expected 4, 8 or 16)",
                        loc.file_name(), static_cast<int>(loc.line()));
  if (reinterpret_cast<std::uintptr_t>(dst_shared) % n || reinterpret_cast<std::uintptr_t>(src_global) % n)
    detail::kernel_fail("__pipeline_memcpy_async of " + std::to_string(n) +
                            " bytes with a pointer not aligned to " + std::to_string(n) + " bytes",
                        loc.file_name(), static_cast<int>(loc.line()));
  if (zfill > n)
    detail::kernel_fail("__pipeline_memcpy_async with zfill " + std::to_string(zfill) + " > size " + std::to_string(n),
                        loc.file_name(), static_cast<int>(loc.line()));
  std::memcpy(dst_shared, src_global, n - zfill);
  std::memset(static_cast<unsigned char*>(dst_shared) + (n - zfill), 0, zfill);
}
inline void __pipeline_commit() {}
inline void __pipeline_wait_prior(std::size_t /*prior*/) {}

}  // namespace halfway::simt
