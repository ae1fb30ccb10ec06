// The end of a step on the device (API: device_scaler.hpp): one thread runs exercise
// 04.1's rule on the scaler's words, so the scale is never read by the host in between.
#include "common/device.cuh"
#include "kernels/amp/device_scaler.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

__global__ void end_of_step_kernel(::halfway::amp::ScalerWords* w, ::halfway::amp::ScaleMode mode,
                                   ::halfway::amp::ScaleRule rule) {
  ::halfway::amp::end_of_step(*w, mode, rule);
}

}  // namespace

void scaler_end_of_step(::halfway::amp::ScalerWords* w, ::halfway::amp::ScaleMode mode, ::halfway::amp::ScaleRule rule) {
  HALFWAY_LAUNCH(end_of_step_kernel, 1, 1, 0, 0)(w, mode, rule);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace halfway::HALFWAY_KERNEL_NS
