// The step log on the device (API: step_log.hpp): one-thread kernels at the start and the
// end of a step, and the runtime calls of the read (pinned host memory, an async copy on
// the current stream, an event), the emulator's or CUDA's.
#include "common/device.cuh"
#include "kernels/optim/step_log.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

__global__ void begin_kernel(::halfway::optim::StepLog* log, ::halfway::optim::StepControl* ctl,
                             const ::halfway::amp::ScalerWords* sw, ::halfway::optim::StepPlan plan) {
  ::halfway::optim::begin_step(*log, *ctl, *sw, plan);
}

__global__ void end_kernel(::halfway::optim::StepLog* log, const ::halfway::optim::StepWords* w,
                           const ::halfway::amp::ScalerWords* sw, ::halfway::optim::StepRule rule, int collapse_after) {
  ::halfway::optim::end_step(*log, *w, *sw, rule, collapse_after);
}

__global__ void clear_period_kernel(::halfway::optim::StepLog* log) { ::halfway::optim::clear_period(*log); }

cudaStream_t current() { return launch_stream(0); }

}  // namespace

void step_log_begin(::halfway::optim::StepLog* log, ::halfway::optim::StepControl* ctl,
                    const ::halfway::amp::ScalerWords* sw, ::halfway::optim::StepPlan plan) {
  HALFWAY_LAUNCH(begin_kernel, 1, 1, 0, 0)(log, ctl, sw, plan);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void step_log_end(::halfway::optim::StepLog* log, const ::halfway::optim::StepWords* w,
                  const ::halfway::amp::ScalerWords* sw, ::halfway::optim::StepRule rule, int collapse_after) {
  HALFWAY_LAUNCH(end_kernel, 1, 1, 0, 0)(log, w, sw, rule, collapse_after);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void step_log_clear_period(::halfway::optim::StepLog* log) {
  HALFWAY_LAUNCH(clear_period_kernel, 1, 1, 0, 0)(log);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void pinned_alloc(std::size_t bytes, void** out) { HALFWAY_CUDA_CHECK(cudaHostAlloc(out, bytes, cudaHostAllocDefault)); }

void pinned_free(void* p) noexcept { (void)cudaFreeHost(p); }

void event_create(void** out) {
  cudaEvent_t e = nullptr;
  HALFWAY_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  *out = e;
}

void event_destroy(void* e) noexcept { (void)cudaEventDestroy(static_cast<cudaEvent_t>(e)); }

void copy_out_async(void* dst, const void* src, std::size_t bytes, void* e) {
  HALFWAY_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, current()));
  HALFWAY_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(e), current()));
}

void event_wait(void* e) { HALFWAY_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(e))); }

}  // namespace halfway::HALFWAY_KERNEL_NS
