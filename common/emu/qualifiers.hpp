/// @file qualifiers.hpp
/// @brief CUDA's qualifier keywords as g++ macros, for kernels compiled against the emulator.
///
/// Blocks run one at a time, so a `__shared__` variable is a function-local `static`: one
/// object shared by every thread of the running block. On a GPU its contents are undefined
/// when a block starts, so the scheduler fills the linker section `halfway_emu_shared`, where
/// the statics live, with 0xFF bytes (NaN) before each block (HALFWAY_EMU_POISON_SHARED,
/// scheduler.cpp). Two exceptions keep a plain `static`, whose contents carry over from the
/// previous block: under ASan (it guards only globals outside named sections, and it is
/// what sees an overflow of a shared array), and in templates, where g++ ignores a section
/// attribute on a static local (GCC bug 70435).
#pragma once

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#if defined(__SANITIZE_ADDRESS__)
#define __shared__ static
#else
#define __shared__ static __attribute__((section("halfway_emu_shared")))
#endif
#define __constant__
#define __managed__
#define __grid_constant__
// __restrict__ is already a g++ keyword. __noinline__ is not defined: libstdc++ uses that
// spelling inside its own __attribute__s.

/// Emulator bookkeeping called from kernel code must stay invisible to the race checker.
#if defined(__SANITIZE_THREAD__)
#define HALFWAY_EMU_NO_TSAN __attribute__((no_sanitize("thread"), noinline))
#else
#define HALFWAY_EMU_NO_TSAN
#endif
