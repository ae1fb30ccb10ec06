// The step log on the device (API: step_log.hpp): one-thread kernels at the start and the
// end of a step, and the one that clears the period after a read.
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

}  // namespace halfway::HALFWAY_KERNEL_NS
