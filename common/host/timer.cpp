// time_repeated and GpuTimer (common/timer.hpp).
#include "common/timer.hpp"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "common/device_memory.hpp"
#include "common/error.hpp"

#if HALFWAY_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace halfway {

Timing time_repeated(const std::function<void()>& work, int warmup, int repeats,
                     Backend backend) {
  if (repeats < 1) throw Error("time_repeated: expected repeats >= 1, found " + std::to_string(repeats));
  if (warmup < 0) throw Error("time_repeated: expected warmup >= 0, found " + std::to_string(warmup));
  for (int i = 0; i < warmup; ++i) work();
  std::vector<double> runs;
  runs.reserve(static_cast<std::size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    synchronize(backend);  // kernels run asynchronously on cuda and emu
    WallTimer timer;
    work();
    synchronize(backend);
    runs.push_back(timer.seconds());
  }
  std::sort(runs.begin(), runs.end());
  const std::size_t n = runs.size();
  Timing t;
  t.repeats = repeats;
  t.min = runs.front();
  t.max = runs.back();
  t.median = n % 2 ? runs[n / 2] : 0.5 * (runs[n / 2 - 1] + runs[n / 2]);
  t.mean = std::accumulate(runs.begin(), runs.end(), 0.0) / static_cast<double>(n);
  return t;
}

#if HALFWAY_HAVE_CUDA
GpuTimer::GpuTimer() {
  if (!gpu_usable()) throw Error("GpuTimer: expected a usable GPU, found " + gpu_description());
  cudaEvent_t a = nullptr, b = nullptr;
  HALFWAY_CUDA_CHECK(cudaEventCreate(&a));
  if (cudaError_t e = cudaEventCreate(&b); e != cudaSuccess) {
    cudaEventDestroy(a);
    fail_cuda(__FILE__, __LINE__, "cudaEventCreate(&b)", cudaGetErrorString(e));
  }
  start_ = a;
  stop_ = b;
}
GpuTimer::~GpuTimer() {
  cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}
void GpuTimer::start() { HALFWAY_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_), 0)); }
double GpuTimer::stop() {
  HALFWAY_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_), 0));
  HALFWAY_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
  float ms = 0;
  HALFWAY_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_),
                                          static_cast<cudaEvent_t>(stop_)));
  return ms * 1e-3;
}
#else
GpuTimer::GpuTimer() {
  throw Error("GpuTimer: expected a build with CUDA, found one configured without it; "
              "time the cpu and emu backends with WallTimer");
}
GpuTimer::~GpuTimer() = default;
void GpuTimer::start() {}
double GpuTimer::stop() { return 0; }
#endif

}  // namespace halfway
