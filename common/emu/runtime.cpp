// The emulated CUDA runtime API (see runtime.hpp for the error policy): errors, the
// memory registry, device properties. Streams, events and copies are in queue.cpp.
#include "common/emu/runtime.hpp"

#include <cxxabi.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/emu/device_hooks.hpp"
#include "common/emu/error.hpp"
#include "common/emu/queue.hpp"
#include "common/runtime_counters.hpp"

namespace halfway::simt {
namespace {

std::atomic<unsigned long long> g_launches{0}, g_device_allocations{0};

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local cudaError_t t_detail_code = cudaSuccess;
thread_local std::string t_detail;

struct Range {
  std::size_t bytes;
  detail::MemoryKind kind;
  bool owned;  // allocated here (freed by cudaFree / cudaFreeHost), not registered host memory
};

struct Registry {
  std::mutex mutex;
  std::map<std::uintptr_t, Range> ranges;  // by start address: what a kernel may point into
  std::unordered_map<const void*, std::size_t> smem_limit;

  // The range holding p (its end included: a pointer one past an array is a valid argument).
  std::map<std::uintptr_t, Range>::const_iterator find(const void* p) const {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    auto it = ranges.upper_bound(a);
    if (it == ranges.begin()) return ranges.end();
    --it;
    return a <= it->first + it->second.bytes ? it : ranges.end();
  }
};
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: frees may run during static destruction
  return *r;
}

constexpr std::size_t kDefaultDynamicSmem = 48 * 1024;
constexpr std::size_t kMaxDynamicSmem = 227 * 1024;  // sm_90's opt-in limit

cudaError_t alloc(detail::MemoryKind kind, void** ptr, std::size_t bytes) {
  if (!ptr) return detail::record_error(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  void* p = nullptr;
  // Exactly `bytes`, so ASan reports the first byte past the end.
  if (posix_memalign(&p, 256, bytes) != 0) return detail::record_error(cudaErrorMemoryAllocation);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.ranges[reinterpret_cast<std::uintptr_t>(p)] = Range{bytes, kind, true};
  if (kind == detail::MemoryKind::device) ++g_device_allocations;
  counters::allocation(Backend::emu);
  *ptr = p;
  return cudaSuccess;
}

// Forgets the allocation now; frees it once the work queued before has run.
cudaError_t release(detail::MemoryKind kind, void* ptr) {
  if (!ptr) return cudaSuccess;
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    auto it = r.ranges.find(reinterpret_cast<std::uintptr_t>(ptr));
    if (it == r.ranges.end() || it->second.kind != kind || !it->second.owned)
      return detail::record_error(cudaErrorInvalidValue);
    r.ranges.erase(it);
  }
  counters::wait(Backend::emu);  // cudaFree synchronises the device on a GPU
  return detail::release_after_queue(ptr);
}

}  // namespace

EmuCounters emu_counters() { return {g_launches.load(), g_device_allocations.load()}; }

namespace detail {
void count_launch() {
  ++g_launches;
  counters::launch(Backend::emu);
}
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
cudaError_t register_symbol(void** dev_ptr, const void* symbol, std::size_t bytes) {
  if (!dev_ptr) return record_error(cudaErrorInvalidValue);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.ranges.try_emplace(reinterpret_cast<std::uintptr_t>(symbol), Range{bytes, MemoryKind::symbol, false});
  *dev_ptr = const_cast<void*>(symbol);
  return cudaSuccess;
}
void check_pointer_argument(const char* kernel, const char* file, int line, std::size_t index,
                            const char* mangled_type, const void* p) {
  if (!p || memory_kind(p) != MemoryKind::unknown) return;
  int status = 0;
  char* readable = abi::__cxa_demangle(mangled_type, nullptr, nullptr, &status);
  const std::string type = status == 0 && readable ? readable : mangled_type;
  std::free(readable);
  char address[32];
  std::snprintf(address, sizeof address, "%p", p);
  throw KernelError("kernel '" + std::string(kernel) + "' launched at " + file + ":" + std::to_string(line) +
                    ": argument " + std::to_string(index + 1) + " (" + type + ") is " + address +
                    ", which is neither device memory (cudaMalloc, a Buf on the device) nor pinned host memory "
                    "(cudaMallocHost, cudaHostAlloc, cudaHostRegister): a GPU cannot use a host pointer");
}
MemoryKind memory_kind(const void* p) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.find(p);
  return it == r.ranges.end() ? MemoryKind::unknown : it->second.kind;
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
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorHostMemoryAlreadyRegistered: return "cudaErrorHostMemoryAlreadyRegistered";
    case cudaErrorHostMemoryNotRegistered: return "cudaErrorHostMemoryNotRegistered";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
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
    case cudaErrorIllegalState: return "the operation is not permitted in the current state";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorHostMemoryAlreadyRegistered: return "part or all of the requested memory range is already mapped";
    case cudaErrorHostMemoryNotRegistered: return "pointer does not correspond to a registered memory region";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureUnmatched: return "capture was not initiated in this stream";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorStreamCaptureWrongThread: return "attempt to terminate a thread-local capture sequence from another thread";
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

cudaError_t cudaMalloc(void** ptr, std::size_t bytes) { return alloc(detail::MemoryKind::device, ptr, bytes); }
cudaError_t cudaMallocManaged(void** ptr, std::size_t bytes, unsigned) {
  return alloc(detail::MemoryKind::device, ptr, bytes);
}
cudaError_t cudaMallocHost(void** ptr, std::size_t bytes) { return alloc(detail::MemoryKind::pinned, ptr, bytes); }
cudaError_t cudaHostAlloc(void** ptr, std::size_t bytes, unsigned) {
  return alloc(detail::MemoryKind::pinned, ptr, bytes);
}
cudaError_t cudaFree(void* ptr) { return release(detail::MemoryKind::device, ptr); }
cudaError_t cudaFreeHost(void* ptr) { return release(detail::MemoryKind::pinned, ptr); }

cudaError_t cudaHostRegister(void* ptr, std::size_t bytes, unsigned) {
  if (!ptr || bytes == 0) return detail::record_error(cudaErrorInvalidValue);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto a = reinterpret_cast<std::uintptr_t>(ptr);
  auto next = r.ranges.lower_bound(a);
  const bool overlaps_next = next != r.ranges.end() && next->first < a + bytes;
  const bool overlaps_prev = next != r.ranges.begin() && std::prev(next)->first + std::prev(next)->second.bytes > a;
  if (overlaps_next || overlaps_prev) return detail::record_error(cudaErrorHostMemoryAlreadyRegistered);
  r.ranges[a] = Range{bytes, detail::MemoryKind::pinned, false};
  return cudaSuccess;
}
cudaError_t cudaHostUnregister(void* ptr) {
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    auto it = r.ranges.find(reinterpret_cast<std::uintptr_t>(ptr));
    if (it == r.ranges.end() || it->second.owned || it->second.kind != detail::MemoryKind::pinned)
      return detail::record_error(cudaErrorHostMemoryNotRegistered);
    r.ranges.erase(it);
  }
  // The program may free the memory when this returns: the work that uses it runs first.
  return cudaDeviceSynchronize();
}

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

// ---- the emu backend's Bufs (common/device_memory.hpp) -------------------------------

namespace {
void check(cudaError_t e, const char* what, std::size_t bytes) {
  if (e != cudaSuccess)
    throw Error(std::string("emu backend: ") + what + " of " + std::to_string(bytes) + " bytes failed: " +
                cudaGetErrorString(e));
}
// Rounded up to 256 bytes, as a Buf on the cpu backend is (device_memory.hpp): ASan sees
// the same bounds for a Buf on cpu and on emu.
void* buf_alloc(std::size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, (bytes + 255) / 256 * 256), "cudaMalloc", bytes);
  return p;
}
void buf_free(void* p) noexcept { cudaFree(p); }
void buf_copy(void* dst, const void* src, std::size_t bytes, emu_device::Copy direction, void* stream) {
  const cudaMemcpyKind kind = direction == emu_device::Copy::to_device ? cudaMemcpyHostToDevice
                              : direction == emu_device::Copy::to_host ? cudaMemcpyDeviceToHost
                                                                       : cudaMemcpyDeviceToDevice;
  check(cudaMemcpyAsync(dst, src, bytes, kind, static_cast<cudaStream_t>(stream)),
        kind == cudaMemcpyDeviceToHost   ? "cudaMemcpyAsync to the host"
        : kind == cudaMemcpyHostToDevice ? "cudaMemcpyAsync to the device"
                                         : "cudaMemcpyAsync within the device",
        bytes);
}
void buf_synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize", 0); }
void* buf_create_stream() {
  cudaStream_t s = nullptr;
  check(cudaStreamCreate(&s), "cudaStreamCreate", 0);
  return s;
}
void buf_destroy_stream(void* s) noexcept { cudaStreamDestroy(static_cast<cudaStream_t>(s)); }
void buf_synchronize_stream(void* s) {
  check(cudaStreamSynchronize(static_cast<cudaStream_t>(s)), "cudaStreamSynchronize", 0);
}

void* pinned_alloc(std::size_t bytes) {
  void* p = nullptr;
  check(cudaHostAlloc(&p, bytes, cudaHostAllocDefault), "cudaHostAlloc", bytes);
  return p;
}
void pinned_free(void* p) noexcept { cudaFreeHost(p); }
void* event_create() {
  cudaEvent_t e = nullptr;
  check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate", 0);
  return e;
}
void event_destroy(void* e) noexcept { cudaEventDestroy(static_cast<cudaEvent_t>(e)); }
void event_record(void* e, void* s) {
  check(cudaEventRecord(static_cast<cudaEvent_t>(e), static_cast<cudaStream_t>(s)), "cudaEventRecord", 0);
}
bool event_query(void* e) {
  const cudaError_t r = cudaEventQuery(static_cast<cudaEvent_t>(e));
  if (r == cudaErrorNotReady) return false;
  check(r, "cudaEventQuery", 0);
  return true;
}
void event_synchronize(void* e) {
  check(cudaEventSynchronize(static_cast<cudaEvent_t>(e)), "cudaEventSynchronize", 0);
}

[[maybe_unused]] const bool g_hooks_installed = [] {
  emu_device::hooks = emu_device::Hooks{&buf_alloc,         &buf_free,           &buf_copy,
                                        &buf_synchronize,   &buf_create_stream,  &buf_destroy_stream,
                                        &buf_synchronize_stream,
                                        &pinned_alloc,      &pinned_free,        &event_create,
                                        &event_destroy,     &event_record,       &event_query,
                                        &event_synchronize};
  return true;
}();
}  // namespace

}  // namespace halfway::simt
