/// @file dispatch.hpp
/// @brief The one way an op chooses between its host code and its kernel.
///
/// Every op of the course has a host implementation (cpu) and a kernel wrapper compiled
/// twice: by g++ against the emulator into namespace halfway::emu, and by nvcc into
/// namespace halfway::gpu. An op runs its host code on Backend::cpu and otherwise hands the
/// wrapper call to HALFWAY_KERNEL, which picks the namespace:
///
/// @code
/// void scale(Backend b, float* x, std::int64_t n, float s) {
///   if (b != Backend::cpu) return HALFWAY_KERNEL(b, scale_kernel(x, n, s));
///   for (std::int64_t i = 0; i < n; ++i) x[i] *= s;
/// }
/// @endcode
///
/// In a build without CUDA the gpu branch throws a clear Error (select_backend() refuses
/// cuda there before any op is called).
#pragma once

#include "common/backend.hpp"

/// `HALFWAY_KERNEL(backend, wrapper(args...))`: halfway::emu::wrapper(args...) when
/// backend is emu, halfway::gpu::wrapper(args...) when it is cuda. An expression of type void.
#define HALFWAY_KERNEL(backend, ...)                                          \
  ((backend) == ::halfway::Backend::emu ? (void)(::halfway::emu::__VA_ARGS__) \
                                        : (void)HALFWAY_KERNEL_GPU_(__VA_ARGS__))

// The gpu branch: the nvcc-built wrapper, or a clear Error in a build without CUDA (where
// halfway::gpu has no definitions to link against).
#if defined(HALFWAY_HAVE_CUDA)
#define HALFWAY_KERNEL_GPU_(...) (::halfway::gpu::__VA_ARGS__)
#else
#define HALFWAY_KERNEL_GPU_(...) (::halfway::no_cuda_build(#__VA_ARGS__))
#endif
