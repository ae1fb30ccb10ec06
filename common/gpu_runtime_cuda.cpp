// The cuda backend's runtime calls, for builds with CUDA (linked against cudart).
#include <cuda_runtime_api.h>

#include <mutex>
#include <string>

#include "common/backend.hpp"
#include "common/error.hpp"
#include "common/runtime_counters.hpp"

namespace halfway {

namespace {
struct GpuProbe {
  bool usable = false;
  std::string description;
};

const GpuProbe& probe() {
  static std::once_flag once;
  static GpuProbe result;
  std::call_once(once, [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      result.description = std::string("no usable GPU: ") + cudaGetErrorString(err);
      cudaGetLastError();  // clear the sticky error so later calls are unaffected
      return;
    }
    if (count == 0) {
      result.description = "no usable GPU: the CUDA runtime sees 0 devices";
      return;
    }
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    result.usable = true;
    result.description = std::string(prop.name) + ", sm_" + std::to_string(prop.major) +
                         std::to_string(prop.minor) + ", " +
                         std::to_string(prop.totalGlobalMem >> 30) + " GiB";
  });
  return result;
}

void require_gpu() {
  if (!probe().usable) throw Error("cuda backend: expected a usable GPU, found " + probe().description);
}
}  // namespace

bool gpu_usable() { return probe().usable; }
std::string gpu_description() { return probe().description; }

namespace gpu {
void* malloc_bytes(std::size_t bytes) {
  require_gpu();
  void* p = nullptr;
  counters::allocation(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}
void free_bytes(void* p) noexcept {
  counters::wait(Backend::cuda);  // cudaFree synchronises the device
  cudaFree(p);
}
cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }
// From or into pageable memory an async copy waits for the stream (runtime_counters.hpp).
void copy_to_device(void* dst, const void* src, std::size_t bytes, void* stream) {
  counters::copy(Backend::cuda, counters::Copy::to_device, bytes);
  counters::wait(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, as_stream(stream)));
}
void copy_to_host(void* dst, const void* src, std::size_t bytes, void* stream) {
  counters::copy(Backend::cuda, counters::Copy::to_host, bytes);
  counters::wait(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)));
  HALFWAY_CUDA_CHECK(cudaStreamSynchronize(as_stream(stream)));  // the host reads it next
}
void copy_on_device(void* dst, const void* src, std::size_t bytes, void* stream) {
  counters::copy(Backend::cuda, counters::Copy::within, bytes);
  HALFWAY_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, as_stream(stream)));
}
void synchronize() {
  counters::wait(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaDeviceSynchronize());
}
void* create_stream() {
  require_gpu();
  cudaStream_t s = nullptr;
  // A blocking stream: work on the legacy default stream (a copy outside a StreamScope)
  // still waits for it, as on emu.
  HALFWAY_CUDA_CHECK(cudaStreamCreate(&s));
  return s;
}
void destroy_stream(void* stream) noexcept { cudaStreamDestroy(as_stream(stream)); }
void synchronize_stream(void* stream) {
  counters::wait(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaStreamSynchronize(as_stream(stream)));
}
void* host_alloc(std::size_t bytes) {
  require_gpu();
  void* p = nullptr;
  counters::allocation(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
  return p;
}
void host_free(void* p) noexcept {
  counters::wait(Backend::cuda);  // cudaFreeHost synchronises the device
  cudaFreeHost(p);
}
// From or into pinned memory an async copy returns at once (runtime_counters.hpp: no wait).
void copy_to_device_async(void* dst, const void* pinned_src, std::size_t bytes, void* stream) {
  counters::copy(Backend::cuda, counters::Copy::to_device, bytes);
  HALFWAY_CUDA_CHECK(cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice, as_stream(stream)));
}
void copy_to_host_async(void* pinned_dst, const void* src, std::size_t bytes, void* stream) {
  counters::copy(Backend::cuda, counters::Copy::to_host, bytes);
  HALFWAY_CUDA_CHECK(cudaMemcpyAsync(pinned_dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)));
}
void* event_create() {
  require_gpu();
  cudaEvent_t e = nullptr;
  HALFWAY_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}
void event_destroy(void* event) noexcept { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }
void event_record(void* event, void* stream) {
  HALFWAY_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), as_stream(stream)));
}
bool event_query(void* event) {
  const cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (e == cudaErrorNotReady) return false;
  HALFWAY_CUDA_CHECK(e);
  return true;
}
void event_synchronize(void* event) {
  counters::wait(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
}
}  // namespace gpu

}  // namespace halfway
