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
// cudaMemcpy to or from the host waits for the legacy stream (runtime_counters.hpp).
void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  counters::copy(Backend::cuda, counters::Copy::to_device, bytes);
  counters::wait(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  counters::copy(Backend::cuda, counters::Copy::to_host, bytes);
  counters::wait(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void copy_on_device(void* dst, const void* src, std::size_t bytes) {
  counters::copy(Backend::cuda, counters::Copy::within, bytes);
  HALFWAY_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
void synchronize() {
  counters::wait(Backend::cuda);
  HALFWAY_CUDA_CHECK(cudaDeviceSynchronize());
}
}  // namespace gpu

}  // namespace halfway
