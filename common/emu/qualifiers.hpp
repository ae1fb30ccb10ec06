/// @file qualifiers.hpp
/// @brief CUDA's qualifier keywords as g++ macros, for kernels compiled against the emulator.
///
/// Blocks run one at a time, so a `__shared__` variable is a function-local `static`: one
/// object shared by every thread of the running block (ASan sees overflows of it, which it
/// would not for a `thread_local`). Its contents carry over from the previous block; on a
/// GPU they are undefined, so never rely on them.
#pragma once

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
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
