/// @file runtime.hpp
/// @brief The CUDA runtime API calls the course uses, on host memory.
///
/// "Device" memory is host memory (cudaMalloc is an aligned malloc of the exact size, so
/// ASan sees overflows), registered: a kernel argument that points into neither device
/// memory nor registered pinned host memory is a KernelError at the launch (queue.hpp).
/// Error codes and their numbers are CUDA's.
///
/// Work runs as on a GPU, asynchronously (queue.hpp, async_mode()): kernels, memsets,
/// device-to-device copies and copies from the host queue on their stream and run at the
/// next synchronisation point (cudaStreamSynchronize, cudaDeviceSynchronize,
/// cudaEventSynchronize, a copy to pageable host memory). With HALFWAY_EMU_ASYNC=0 every
/// call runs at once, in call order.
///
/// Error policy, as in CUDA: a call returns its error, which is also kept as the host
/// thread's last error (cudaGetLastError returns and clears it, cudaPeekAtLastError
/// returns it). A launch with a bad configuration (more than 1024 threads per block, a
/// zero dimension, too much dynamic shared memory) runs nothing, throws nothing and sets
/// the last error to cudaErrorInvalidConfiguration (cudaErrorInvalidValue for shared
/// memory); cudaGetErrorString then also names the kernel, the launch line and the limit.
/// Errors found while the kernel runs (a KernelError, or any exception a kernel thread
/// throws) propagate from where the kernel runs: the synchronisation point that runs it
/// (the launch itself with HALFWAY_EMU_ASYNC=0); the work queued after it is dropped.
#pragma once

#include <cstddef>

#include "common/emu/types.hpp"

namespace halfway::simt {

enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidPitchValue = 12,
  cudaErrorInvalidSymbol = 13,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorHostMemoryAlreadyRegistered = 712,
  cudaErrorHostMemoryNotRegistered = 713,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorStreamCaptureWrongThread = 908,
  cudaErrorUnknown = 999,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute : int {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

/// The attributes cudaDeviceGetAttribute answers (CUDA's numbers).
enum cudaDeviceAttr : int {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

struct CUstream_st;
struct CUevent_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;
constexpr unsigned cudaStreamDefault = 0;
constexpr unsigned cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0;
constexpr unsigned cudaEventBlockingSync = 1;
constexpr unsigned cudaEventDisableTiming = 2;
constexpr unsigned cudaHostAllocDefault = 0;
constexpr unsigned cudaHostAllocPortable = 1;
constexpr unsigned cudaHostAllocMapped = 2;
constexpr unsigned cudaHostAllocWriteCombined = 4;
constexpr unsigned cudaHostRegisterDefault = 0;
constexpr unsigned cudaHostRegisterPortable = 1;
constexpr unsigned cudaHostRegisterMapped = 2;

/// What cudaGetDeviceProperties reports for the emulator (a subset of CUDA's fields).
struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  std::size_t sharedMemPerBlock;
  std::size_t sharedMemPerBlockOptin;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  int multiProcessorCount;
  int maxThreadsPerMultiProcessor;
  int major;
  int minor;
};

const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();

cudaError_t cudaMalloc(void** ptr, std::size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** ptr, std::size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaMallocHost(void** ptr, std::size_t bytes);
template <class T>
cudaError_t cudaMallocHost(T** ptr, std::size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaMallocManaged(void** ptr, std::size_t bytes, unsigned flags = 1);
template <class T>
cudaError_t cudaMallocManaged(T** ptr, std::size_t bytes, unsigned flags = 1) {
  return cudaMallocManaged(reinterpret_cast<void**>(ptr), bytes, flags);
}
/// Pinned host memory: a kernel may read and write it (mapped, as with unified addressing).
cudaError_t cudaHostAlloc(void** ptr, std::size_t bytes, unsigned flags);
template <class T>
cudaError_t cudaHostAlloc(T** ptr, std::size_t bytes, unsigned flags) {
  return cudaHostAlloc(reinterpret_cast<void**>(ptr), bytes, flags);
}
/// Pins (registers) host memory the program allocated; a kernel may then use it.
cudaError_t cudaHostRegister(void* ptr, std::size_t bytes, unsigned flags);
cudaError_t cudaHostUnregister(void* ptr);
/// cudaFree and cudaFreeHost release the memory after the work queued before them (queue.hpp).
cudaError_t cudaFree(void* ptr);
cudaError_t cudaFreeHost(void* ptr);

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy2D(void* dst, std::size_t dpitch, const void* src, std::size_t spitch,
                         std::size_t width, std::size_t height, cudaMemcpyKind kind);
cudaError_t cudaMemset(void* dst, int value, std::size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream = nullptr);

/// The device address of a __device__ / __constant__ variable (a plain global in the
/// emulator): a kernel argument may point into it. Defined below.
template <class T>
cudaError_t cudaGetSymbolAddress(void** dev_ptr, const T& symbol);

/// Copies into a __device__ / __constant__ variable (a plain global in the emulator).
template <class T>
cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, std::size_t bytes, std::size_t offset = 0,
                               cudaMemcpyKind kind = cudaMemcpyHostToDevice);
template <class T>
cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, std::size_t bytes, std::size_t offset = 0,
                                 cudaMemcpyKind kind = cudaMemcpyDeviceToHost);

cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
/// Free and total "device" memory: the host's available and total RAM.
cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
/// Milliseconds of host time between the two records.
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);

/// Only cudaFuncAttributeMaxDynamicSharedMemorySize has an effect: it raises the
/// dynamic shared memory a launch of `kernel` may ask for above the default 48 KiB.
cudaError_t cudaFuncSetAttributeById(const void* kernel, cudaFuncAttribute attr, int value);
template <class F>
cudaError_t cudaFuncSetAttribute(F* kernel, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttributeById(reinterpret_cast<const void*>(kernel), attr, value);
}

/// The emulator's counters since the process started, for tests that count what a piece
/// of code does on the device: kernel launches (every HALFWAY_LAUNCH, also one with a bad
/// configuration) and successful cudaMalloc / cudaMallocManaged calls.
struct EmuCounters {
  unsigned long long launches = 0, device_allocations = 0;
};
EmuCounters emu_counters();

namespace detail {
void count_launch();
cudaError_t record_error(cudaError_t e);
/// A launch-configuration error: kept with its explanation for cudaGetErrorString.
void record_launch_error(cudaError_t e, const char* detail);
std::size_t max_dynamic_smem(const void* kernel);
cudaError_t copy_to_symbol(void* dst, const void* src, std::size_t bytes);
cudaError_t copy_from_symbol(void* dst, const void* src, std::size_t bytes);
cudaError_t register_symbol(void** dev_ptr, const void* symbol, std::size_t bytes);

/// What a pointer points into, as the emulator's memory registry knows it.
enum class MemoryKind { unknown, device, pinned, symbol };
MemoryKind memory_kind(const void* p);
/// Throws KernelError when the launch's pointer argument `index` (0-based; `mangled_type`
/// is typeid's name) is not null and points into neither device nor pinned memory.
void check_pointer_argument(const char* kernel, const char* file, int line, std::size_t index,
                            const char* mangled_type, const void* p);
}  // namespace detail

template <class T>
cudaError_t cudaGetSymbolAddress(void** dev_ptr, const T& symbol) {
  return detail::register_symbol(dev_ptr, &symbol, sizeof(T));
}

template <class T>
cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, std::size_t bytes, std::size_t offset,
                               cudaMemcpyKind) {
  if (offset + bytes > sizeof(T)) return detail::record_error(cudaErrorInvalidValue);
  return detail::copy_to_symbol(reinterpret_cast<unsigned char*>(&symbol) + offset, src, bytes);
}
template <class T>
cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, std::size_t bytes, std::size_t offset,
                                 cudaMemcpyKind) {
  if (offset + bytes > sizeof(T)) return detail::record_error(cudaErrorInvalidValue);
  return detail::copy_from_symbol(dst, reinterpret_cast<const unsigned char*>(&symbol) + offset, bytes);
}

}  // namespace halfway::simt
