// The fault hook's kernels (API: fault_inject.hpp): one thread each, the decision on the
// device.
#include "common/device.cuh"
#include "kernels/train/fault_inject.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

__global__ void inject_fault_one(const std::int64_t* step, ::halfway::train::FaultWrite w, void* target) {
  if (!::halfway::train::fault_active(w.first, w.count, *step)) return;
  if (w.bytes == 2) *static_cast<std::uint16_t*>(target) = static_cast<std::uint16_t>(w.bits);
  else *static_cast<std::uint32_t*>(target) = w.bits;
}

__global__ void count_step_one(std::int64_t* step) { *step += 1; }

}  // namespace

void inject_fault_kernel(const std::int64_t* step, ::halfway::train::FaultWrite w, void* target) {
  HALFWAY_LAUNCH(inject_fault_one, 1, 1, 0, 0)(step, w, target);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void count_step_kernel(std::int64_t* step) {
  HALFWAY_LAUNCH(count_step_one, 1, 1, 0, 0)(step);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace halfway::HALFWAY_KERNEL_NS
