/// @file linear_gemms.hpp
/// @brief A hook for the three GEMMs of a bf16 Linear layer (forward x W^T, backward dy^T x
/// and dy W): chapter 09's fp8 training (kernels/fp8/linear_fp8.hpp) runs them in fp8.
///
/// Chapter 03's ops ask `linear_gemms()` before each of these GEMMs in bf16 mode: null (the
/// default) runs chapter 02's GEMM as always; a hook set by a LinearGemmsScope runs its own
/// and the op goes on from the hook's fp32 (or rounded) result as before (bias, rounding,
/// accumulation into the gradient). The layers never depend on fp8: the hook is this
/// interface, implemented where fp8 lives. A hook names a Linear by its weight pointer,
/// which is the same at every step (the parameter store's views never move).
#pragma once

#include <cstdint>

#include "kernels/fp16/half.hpp"

namespace halfway::layers {

class LinearGemms {
 public:
  virtual ~LinearGemms() = default;
  /// acc[rows, out] (fp32, dense) = x[rows, in] W^T, W [out, in] with row stride ldw.
  virtual void forward(const bfloat16* x, int rows, int in, const bfloat16* w, std::int64_t ldw, int out,
                       float* acc) = 0;
  /// dw[out, in] (fp32, row stride ldw) += dy^T x; dy [rows, out] with row stride lddy.
  virtual void weight_grad(const bfloat16* x, const bfloat16* dy, std::int64_t lddy, int rows, int in, int out,
                           const bfloat16* w, std::int64_t ldw, float* dw) = 0;
  /// dx[rows, in] = bf16(dy W), dense.
  virtual void input_grad(const bfloat16* dy, std::int64_t lddy, int rows, int in, int out, const bfloat16* w,
                          std::int64_t ldw, bfloat16* dx) = 0;
};

/// The thread's hook (null: none).
inline LinearGemms*& linear_gemms() {
  static thread_local LinearGemms* hook = nullptr;
  return hook;
}

/// Sets the thread's hook for its lifetime, then restores the one before.
class LinearGemmsScope {
 public:
  explicit LinearGemmsScope(LinearGemms* hook) : before_(linear_gemms()) { linear_gemms() = hook; }
  ~LinearGemmsScope() { linear_gemms() = before_; }
  LinearGemmsScope(const LinearGemmsScope&) = delete;
  LinearGemmsScope& operator=(const LinearGemmsScope&) = delete;

 private:
  LinearGemms* before_;
};

}  // namespace halfway::layers
