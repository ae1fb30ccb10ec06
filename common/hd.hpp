/// @file hd.hpp
/// @brief Qualifiers for code shared by host and kernels, in all three builds.
///
/// Under nvcc, `HALFWAY_HD` is `__host__ __device__`. Under g++ (host code and the
/// emulator build of kernels) it is empty: emulated device code is host code.
#pragma once

#if defined(__CUDACC__)
#define HALFWAY_HD __host__ __device__
#define HALFWAY_HD_INLINE __host__ __device__ __forceinline__
#else
#define HALFWAY_HD
#define HALFWAY_HD_INLINE inline
#endif

/// Declares a kernel library's host API once for both kernel builds: the emulator's
/// (namespace halfway::emu, compiled by g++) and the GPU's (halfway::gpu, by nvcc).
/// A kernel file defines its functions inside `namespace halfway::HALFWAY_KERNEL_NS`.
#define HALFWAY_KERNEL_API(...)       \
  namespace halfway::emu {            \
  __VA_ARGS__                         \
  }                                   \
  namespace halfway::gpu {            \
  __VA_ARGS__                         \
  }
