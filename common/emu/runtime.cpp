// The emulated CUDA runtime API (see runtime.hpp for the error policy).
#include "common/emu/runtime.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

struct halfway::simt::CUstream_st {
  unsigned flags = 0;
};
struct halfway::simt::CUevent_st {
  std::chrono::steady_clock::time_point when{};
  bool recorded = false;
};

namespace halfway::simt {
namespace {

std::atomic<unsigned long long> g_launches{0}, g_device_allocations{0};

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local cudaError_t t_detail_code = cudaSuccess;
thread_local std::string t_detail;

struct Registry {
  std::mutex mutex;
  std::unordered_set<void*> device;  // cudaMalloc / cudaMallocManaged
  std::unordered_set<void*> pinned;  // cudaMallocHost
  std::unordered_map<const void*, std::size_t> smem_limit;
};
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: frees may run during static destruction
  return *r;
}

constexpr std::size_t kDefaultDynamicSmem = 48 * 1024;
constexpr std::size_t kMaxDynamicSmem = 227 * 1024;  // sm_90's opt-in limit

cudaError_t alloc(std::unordered_set<void*> Registry::*set, void** ptr, std::size_t bytes) {
  if (!ptr) return detail::record_error(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  void* p = nullptr;
  // Exactly `bytes`, so ASan reports the first byte past the end.
  if (posix_memalign(&p, 256, bytes) != 0) return detail::record_error(cudaErrorMemoryAllocation);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  (r.*set).insert(p);
  if (set == &Registry::device) ++g_device_allocations;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t release(std::unordered_set<void*> Registry::*set, void* ptr) {
  if (!ptr) return cudaSuccess;
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    if ((r.*set).erase(ptr) == 0) return detail::record_error(cudaErrorInvalidValue);
  }
  std::free(ptr);
  return cudaSuccess;
}

bool valid_kind(cudaMemcpyKind kind) { return kind >= cudaMemcpyHostToHost && kind <= cudaMemcpyDefault; }

}  // namespace

EmuCounters emu_counters() { return {g_launches.load(), g_device_allocations.load()}; }

namespace detail {
void count_launch() { ++g_launches; }
cudaError_t record_error(cudaError_t e) {
  if (e != cudaSuccess) t_last_error = e;
  return e;
}
void record_launch_error(cudaError_t e, const char* text) {
  t_last_error = e;
  t_detail_code = e;
  t_detail = std::string(cudaGetErrorName(e)) + " (" + text + ")";
}
std::size_t max_dynamic_smem(const void* kernel) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.smem_limit.find(kernel);
  return it == r.smem_limit.end() ? kDefaultDynamicSmem : it->second;
}
cudaError_t copy_symbol(void* dst, const void* src, std::size_t bytes) {
  if (bytes && (!dst || !src)) return record_error(cudaErrorInvalidValue);
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
}  // namespace detail

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidPitchValue: return "cudaErrorInvalidPitchValue";
    case cudaErrorInvalidSymbol: return "cudaErrorInvalidSymbol";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorUnknown: return "cudaErrorUnknown";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t e) {
  if (e != cudaSuccess && e == t_detail_code && !t_detail.empty()) return t_detail.c_str();
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidPitchValue: return "invalid pitch argument";
    case cudaErrorInvalidSymbol: return "invalid device symbol";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() {
  cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return t_last_error; }

cudaError_t cudaMalloc(void** ptr, std::size_t bytes) { return alloc(&Registry::device, ptr, bytes); }
cudaError_t cudaMallocManaged(void** ptr, std::size_t bytes, unsigned) {
  return alloc(&Registry::device, ptr, bytes);
}
cudaError_t cudaMallocHost(void** ptr, std::size_t bytes) { return alloc(&Registry::pinned, ptr, bytes); }
cudaError_t cudaFree(void* ptr) { return release(&Registry::device, ptr); }
cudaError_t cudaFreeHost(void* ptr) { return release(&Registry::pinned, ptr); }

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  if (!valid_kind(kind)) return detail::record_error(cudaErrorInvalidMemcpyDirection);
  if (bytes && (!dst || !src)) return detail::record_error(cudaErrorInvalidValue);
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemcpy2D(void* dst, std::size_t dpitch, const void* src, std::size_t spitch,
                         std::size_t width, std::size_t height, cudaMemcpyKind kind) {
  if (!valid_kind(kind)) return detail::record_error(cudaErrorInvalidMemcpyDirection);
  if (width > dpitch || width > spitch) return detail::record_error(cudaErrorInvalidPitchValue);
  for (std::size_t r = 0; r < height; ++r)
    std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, std::size_t bytes) {
  if (bytes && !dst) return detail::record_error(cudaErrorInvalidValue);
  if (bytes) std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t) {
  return cudaMemset(dst, value, bytes);
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaDeviceReset() { return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return detail::record_error(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (!device) return detail::record_error(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : detail::record_error(cudaErrorInvalidDevice);
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return detail::record_error(cudaErrorInvalidValue);
  if (device != 0) return detail::record_error(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, "halfway SIMT emulator (CPU)", sizeof(prop->name) - 1);
  prop->totalGlobalMem = std::size_t(1) << 34;
  prop->sharedMemPerBlock = kDefaultDynamicSmem;
  prop->sharedMemPerBlockOptin = kMaxDynamicSmem;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->clockRate = 1000000;
  prop->multiProcessorCount = 1;
  prop->maxThreadsPerMultiProcessor = 1024;
  prop->major = 8;  // the emulator provides what sm_80 kernels use (WMMA, bf16, cp.async)
  prop->minor = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return detail::record_error(cudaErrorInvalidValue);
  if (device != 0) return detail::record_error(cudaErrorInvalidDevice);
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, 0);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(p.sharedMemPerBlock); return cudaSuccess;
    case cudaDevAttrWarpSize: *value = p.warpSize; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(p.sharedMemPerBlockOptin); return cudaSuccess;
  }
  return detail::record_error(cudaErrorInvalidValue);
}

cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return detail::record_error(cudaErrorInvalidValue);
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  *free_bytes = page * static_cast<std::size_t>(sysconf(_SC_AVPHYS_PAGES));
  *total_bytes = page * static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES));
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (!stream) return detail::record_error(cudaErrorInvalidValue);
  *stream = new CUstream_st{flags};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return detail::record_error(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t event, unsigned) {
  return event ? cudaSuccess : detail::record_error(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  if (!event) return detail::record_error(cudaErrorInvalidValue);
  *event = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (!event) return detail::record_error(cudaErrorInvalidResourceHandle);
  event->when = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return event ? cudaSuccess : detail::record_error(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  return event ? cudaSuccess : detail::record_error(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return detail::record_error(cudaErrorInvalidValue);
  if (!start || !end || !start->recorded || !end->recorded)
    return detail::record_error(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!event) return detail::record_error(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttributeById(const void* kernel, cudaFuncAttribute attr, int value) {
  if (!kernel) return detail::record_error(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<std::size_t>(value) > kMaxDynamicSmem)
      return detail::record_error(cudaErrorInvalidValue);
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.smem_limit[kernel] = static_cast<std::size_t>(value) < kDefaultDynamicSmem
                               ? kDefaultDynamicSmem
                               : static_cast<std::size_t>(value);
    return cudaSuccess;
  }
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  return detail::record_error(cudaErrorInvalidValue);
}

}  // namespace halfway::simt
