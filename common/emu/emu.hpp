/// @file emu.hpp
/// @brief The SIMT emulator: everything a kernel compiled by g++ sees (through
/// common/device.cuh, which also brings these names into namespace halfway::emu).
///
/// Names: CUDA's types, runtime API, intrinsics, warp primitives, atomics and
/// nvcuda::wmma live in namespace halfway::simt. CUDA's qualifiers and built-in
/// variables are macros, defined here:
/// - threadIdx, blockIdx, blockDim, gridDim: the running thread's values;
/// - __syncthreads(), __syncthreads_count/_and/_or(pred): block barriers that pass the
///   source line, so a divergent barrier is reported where it is;
/// - __trap(): throws halfway::simt::KernelError naming the thread and line.
///
/// Environment: HALFWAY_EMU_ORDER=forward|reverse|random[:seed] (thread and block order,
/// default forward; set_thread_order() overrides it), HALFWAY_EMU_STACK_KIB (fiber stack
/// size, default 128, 512 under sanitizers), HALFWAY_EMU_POISON_SHARED=1|0 (fill static
/// __shared__ arrays with 0xFF bytes before each block, default 1; set_poison_shared()),
/// HALFWAY_EMU_ASYNC=1|0 (work queues and runs at synchronisation points as on a GPU,
/// default 1; 0 runs every launch and copy at once; set_async_mode(), queue.hpp).
#pragma once

#include "common/emu/atomics.hpp"
#include "common/emu/error.hpp"
#include "common/emu/half.hpp"
#include "common/emu/intrinsics.hpp"
#include "common/emu/launch.hpp"
#include "common/emu/pipeline.hpp"
#include "common/emu/queue.hpp"
#include "common/emu/qualifiers.hpp"
#include "common/emu/runtime.hpp"
#include "common/emu/scheduler.hpp"
#include "common/emu/types.hpp"
#include "common/emu/warp.hpp"
#if __has_include("common/emu/wmma.hpp")
#include "common/emu/wmma.hpp"
#endif

#define threadIdx (::halfway::simt::detail::thread_idx())
#define blockIdx (::halfway::simt::detail::block_idx())
#define blockDim (::halfway::simt::detail::block_dim())
#define gridDim (::halfway::simt::detail::grid_dim())

#define __syncthreads() ((void)::halfway::simt::detail::syncthreads(__FILE__, __LINE__))
#define __syncthreads_count(pred) ::halfway::simt::detail::syncthreads(__FILE__, __LINE__, (pred) != 0)
#define __syncthreads_and(pred) (::halfway::simt::detail::syncthreads(__FILE__, __LINE__, !(pred)) == 0)
#define __syncthreads_or(pred) (::halfway::simt::detail::syncthreads(__FILE__, __LINE__, (pred) != 0) != 0)
#define __trap() ::halfway::simt::detail::trap(__FILE__, __LINE__)
