/// @file scheduler.hpp
/// @brief What kernel code needs from the emulator's scheduler: the current thread's
/// built-in variables, barriers, warp collectives and the launch entry point.
///
/// The scheduler itself is described in scheduler.cpp. Kernel code reaches it through the
/// macros of device.cuh (threadIdx, __syncthreads ...) and the functions of warp.hpp,
/// wmma.hpp and atomics.hpp; nothing here is meant to be called by course code directly.
#pragma once

#include <cstddef>
#include <source_location>
#include <string>

#include "common/emu/error.hpp"
#include "common/emu/qualifiers.hpp"
#include "common/emu/types.hpp"

namespace halfway::simt {

constexpr int warpSize = 32;

namespace detail {

/// The built-in variables of the running CUDA thread and block.
struct ThreadInfo {
  uint3 tid;
  unsigned linear;  ///< x + y*blockDim.x + z*blockDim.x*blockDim.y
  unsigned lane;    ///< linear % 32
  unsigned warp;    ///< linear / 32
};
struct BlockInfo {
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned char* dynamic_smem;
};

/// Set by the scheduler before it resumes a thread's fiber (all fibers of a launch run
/// on the launching host thread).
inline thread_local const ThreadInfo* t_thread = nullptr;
inline thread_local const BlockInfo* t_block = nullptr;

[[noreturn]] void outside_kernel(const char* what);

HALFWAY_EMU_NO_TSAN inline uint3 thread_idx() {
  if (!t_thread) outside_kernel("threadIdx");
  return t_thread->tid;
}
HALFWAY_EMU_NO_TSAN inline uint3 block_idx() {
  if (!t_block) outside_kernel("blockIdx");
  return t_block->block_idx;
}
HALFWAY_EMU_NO_TSAN inline dim3 block_dim() {
  if (!t_block) outside_kernel("blockDim");
  return t_block->block_dim;
}
HALFWAY_EMU_NO_TSAN inline dim3 grid_dim() {
  if (!t_block) outside_kernel("gridDim");
  return t_block->grid_dim;
}
HALFWAY_EMU_NO_TSAN inline unsigned lane_id() {
  if (!t_thread) outside_kernel("a warp operation");
  return t_thread->lane;
}
HALFWAY_EMU_NO_TSAN inline unsigned char* dynamic_shared() {
  if (!t_block) outside_kernel("dynamic shared memory");
  return t_block->dynamic_smem;
}

/// Block barrier. `pred` feeds __syncthreads_count/_and/_or; returns the number of
/// threads that arrived with a nonzero pred.
int syncthreads(const char* file, int line, int pred = 0);

/// A warp-collective operation. Every lane named in `mask` calls warp_collective with
/// the same `kind` and mask, passing a pointer to its own data (inputs and room for its
/// outputs, on its stack). When the last of them arrives, `kind.complete` runs once with
/// all lanes' pointers (lane_data[l] for l in mask; the others are null) and writes every
/// lane's outputs; then all of them continue. `complete` may throw KernelError.
struct WarpOpKind {
  const char* name;
  void (*complete)(void* const* lane_data, unsigned mask, const char* file, int line);
};
void warp_collective(const WarpOpKind& kind, unsigned mask, void* my_data,
                     const std::source_location& where);

/// __syncwarp: a warp collective that also orders memory among the lanes (for TSan).
void syncwarp(unsigned mask, const std::source_location& where);

/// Lanes of the calling thread's warp that exist and had not exited when the block's last
/// barrier released (or at the start): the same in every thread order (see __activemask).
unsigned active_mask();

/// Throws KernelError("<kernel, block, thread>: <what> at file:line").
[[noreturn]] void kernel_fail(const std::string& what, const char* file, int line);

/// One launch, as HALFWAY_LAUNCH describes it. `body(body_ctx)` runs the kernel with
/// its arguments in the current thread.
struct LaunchSpec {
  const void* kernel_id;  ///< the kernel's address (for cudaFuncSetAttribute)
  const char* kernel_name;
  const char* file;
  int line;
  dim3 grid;
  dim3 block;
  std::size_t dynamic_smem;
  void (*body)(void* ctx);
  void* body_ctx;
};

/// Checks the launch when it is made: a bad configuration sets the last error
/// (cudaGetLastError) and returns false (nothing may run); a launch from inside a kernel
/// throws KernelError.
bool launch_accepted(const LaunchSpec& spec);
/// Runs every block of an accepted launch (when the queue gets to it): an exception thrown
/// by a kernel thread or a KernelError found by the scheduler abandons the launch and
/// propagates from here.
void run_launch(const LaunchSpec& spec);

}  // namespace detail
}  // namespace halfway::simt
