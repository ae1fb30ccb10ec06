/// @file device.cuh
/// @brief The one include of every kernel file: CUDA under nvcc, the SIMT emulator under g++.
///
/// A kernel file puts its code in `namespace halfway::HALFWAY_KERNEL_NS { ... }` and uses
/// CUDA's own names (`__half`, `__shfl_sync`, `nvcuda::wmma` ...). Under nvcc that is
/// namespace halfway::gpu and the names are CUDA's; under g++ it is halfway::emu, where a
/// using-directive brings in the emulator's versions from halfway::simt. Both builds can
/// be linked into one binary.
///
/// - `HALFWAY_LAUNCH(kernel, grid, block, smem_bytes, stream)(args...)` launches: it is
///   `kernel<<<grid, block, smem_bytes, stream>>>(args...)` under nvcc, where stream 0
///   means the thread's current stream (common/stream.hpp: the legacy default stream
///   unless a StreamScope names another). Under the emulator
///   it is queued on `stream` and runs at the next synchronisation point, as on a GPU
///   (common/emu/queue.hpp); a kernel's exception (or a KernelError) comes out of that
///   point; a bad configuration sets cudaGetLastError(); a host pointer argument is a
///   KernelError at the launch. Wrap a template kernel
///   with several arguments in parentheses: HALFWAY_LAUNCH((k<float, 16>), ...).
/// - `HALFWAY_DYNAMIC_SHARED(type, name);` declares `type* name` pointing at the block's
///   dynamic shared memory (16-byte aligned; poisoned with 0xFF bytes by the emulator).
#pragma once

#include "common/error.hpp"
#include "common/exercise.hpp"
#include "common/hd.hpp"
#include "common/stream.hpp"
#include "common/runtime_counters.hpp"

#if defined(__CUDACC__)

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>
#include <cuda_runtime.h>
#include <mma.h>

#define HALFWAY_KERNEL_NS gpu
namespace halfway::gpu {
/// A launch's stream: 0 is the thread's current stream.
inline cudaStream_t launch_stream(cudaStream_t s) {
  return s ? s : static_cast<cudaStream_t>(::halfway::current_stream(::halfway::Backend::cuda));
}
}  // namespace halfway::gpu
namespace halfway::detail {
/// The kernel itself, after counting its launch (common/runtime_counters.hpp).
template <class Kernel>
Kernel* counted_launch(Kernel* kernel) {
  counters::launch(Backend::cuda);
  return kernel;
}
}  // namespace halfway::detail
#define HALFWAY_LAUNCH(kernel, grid, block, smem, stream) \
  ::halfway::detail::counted_launch(kernel)<<<grid, block, smem, ::halfway::gpu::launch_stream(stream)>>>
#define HALFWAY_DYNAMIC_SHARED(type, name)                                      \
  extern __shared__ __align__(16) unsigned char halfway_dynamic_smem_[];        \
  type* name = reinterpret_cast<type*>(halfway_dynamic_smem_)

#else

#include "common/emu/emu.hpp"

#define HALFWAY_KERNEL_NS emu
namespace halfway::emu {
using namespace ::halfway::simt;
/// A launch's stream: 0 is the thread's current stream.
inline cudaStream_t launch_stream(cudaStream_t s) {
  return s ? s : static_cast<cudaStream_t>(::halfway::current_stream(::halfway::Backend::emu));
}
}  // namespace halfway::emu
#define HALFWAY_LAUNCH(kernel, grid, block, smem, stream) \
  ::halfway::simt::launcher(kernel, #kernel, __FILE__, __LINE__, grid, block, smem, ::halfway::emu::launch_stream(stream))
#define HALFWAY_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::halfway::simt::detail::dynamic_shared())

#endif
