// Shared helpers of the emulator tests: run a check in every thread order, and device
// buffers that free themselves.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/device.cuh"

namespace halfway::emu_test {

namespace simt = ::halfway::simt;

inline const simt::OrderSetting kOrders[] = {
    {simt::ThreadOrder::forward, 1},
    {simt::ThreadOrder::reverse, 1},
    {simt::ThreadOrder::random, 1},
    {simt::ThreadOrder::random, 12345},
};

/// Runs f once per thread order; a failure names the order.
template <class F>
void for_each_order(F&& f) {
  for (const auto& o : kOrders) {
    const std::string order = simt::to_string(o);
    INFO("thread order ", order);
    simt::set_thread_order(o);
    f();
  }
  simt::reset_thread_order();
}

/// Runs the work queued so far (kernels run at synchronisation points, queue.hpp): the
/// error of a kernel comes out here. `launch(...), run_queued()` launches and runs.
inline void run_queued() {
  const simt::cudaError_t e = simt::cudaDeviceSynchronize();
  if (e != simt::cudaSuccess) throw Error(std::string("cudaDeviceSynchronize: ") + simt::cudaGetErrorString(e));
}

/// What `launch` (a launch, run by run_queued()) throws as a KernelError, or "no KernelError".
inline std::string kernel_error(void (*launch)()) {
  try {
    launch();
    run_queued();
  } catch (const simt::KernelError& e) {
    return e.what();
  }
  return "no KernelError";
}

/// A cudaMalloc'd array of n T, filled from `init` (or zeros).
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n, const std::vector<T>& init = {}) : n_(n) {
    REQUIRE(simt::cudaMalloc(&p_, n * sizeof(T)) == simt::cudaSuccess);
    if (!init.empty()) {
      REQUIRE(init.size() == n);
      REQUIRE(simt::cudaMemcpy(p_, init.data(), n * sizeof(T), simt::cudaMemcpyHostToDevice) == simt::cudaSuccess);
    } else {
      REQUIRE(simt::cudaMemset(p_, 0, n * sizeof(T)) == simt::cudaSuccess);
    }
  }
  ~DeviceBuffer() { simt::cudaFree(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return p_; }
  std::vector<T> host() const {
    std::vector<T> out(n_);
    REQUIRE(simt::cudaMemcpy(out.data(), p_, n_ * sizeof(T), simt::cudaMemcpyDeviceToHost) == simt::cudaSuccess);
    return out;
  }

 private:
  T* p_ = nullptr;
  std::size_t n_;
};

}  // namespace halfway::emu_test
