/// @file parallel_errors.hpp
/// @brief Carries the first exception thrown inside an OpenMP parallel region out of it.
///
/// An exception must not leave an OpenMP region: the runtime calls std::terminate, and a
/// whole test binary aborts ("terminate called after throwing ... ExerciseNotImplemented")
/// instead of one test failing. So each iteration's body runs through run(), which keeps
/// the first exception, and rethrow() after the region throws it unchanged (a stub's own
/// "exercise 01.1 is not implemented yet").
///
///     halfway::ParallelErrors errors;
///     #pragma omp parallel for
///     for (std::int64_t i = 0; i < n; ++i) errors.run([&] { body(i); });
///     errors.rethrow();
///
/// run() adds no check on the path without an exception, so element loops still
/// vectorize; a long loop can test failed() per chunk to stop early.
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <utility>

namespace halfway {

class ParallelErrors {
 public:
  template <class F>
  void run(F&& body) noexcept {
    try {
      body();
    } catch (...) {
      keep(std::current_exception());
    }
  }

  /// Whether an iteration has thrown (other iterations may still be running).
  bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

  /// After the region: throws the first exception kept, if any.
  void rethrow() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void keep(std::exception_ptr e) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::move(e);
    failed_.store(true, std::memory_order_relaxed);
  }

  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace halfway
