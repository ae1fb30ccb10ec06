/// @file timer.hpp
/// @brief Wall-clock timing, and timing a piece of work robustly (warm-up, repeats, median).
///
/// Benchmarks in the course report the median of several runs after a warm-up: the
/// first run pays for page faults, caches and (on a GPU) lazy initialisation, and single
/// runs are noisy. GPU work is asynchronous (and so is the emulator's), so for the cuda and
/// emu backends time_repeated() synchronises the device before starting the clock and
/// after each run: the wall time
/// then covers the kernels. GpuTimer measures with CUDA events instead (GPU time only,
/// no host overhead), in builds with CUDA.
#pragma once

#include <chrono>
#include <functional>

#include "common/backend.hpp"

namespace halfway {

/// A stopwatch on the steady (monotonic) clock: starts when constructed.
class WallTimer {
 public:
  WallTimer() : start_(Clock::now()) {}
  /// Restarts from zero.
  void reset() { start_ = Clock::now(); }
  /// Seconds since construction or the last reset().
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  /// Milliseconds since construction or the last reset().
  double milliseconds() const { return seconds() * 1e3; }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_;
};

/// Statistics of repeated runs, in seconds.
struct Timing {
  double median = 0;  ///< the median run: the number to report
  double min = 0;     ///< the fastest run: the best the machine did
  double mean = 0;
  double max = 0;
  int repeats = 0;    ///< timed runs (warm-up runs not counted)
};

/// Runs `work` `warmup` times untimed, then `repeats` times timed one by one. For
/// Backend::cuda and Backend::emu the device is synchronised before each timed run starts and before it
/// ends. Throws Error when repeats < 1 or warmup < 0.
Timing time_repeated(const std::function<void()>& work, int warmup = 1, int repeats = 5,
                     Backend backend = Backend::cpu);

/// GPU time between start() and stop() by CUDA events on the default stream (for the
/// cuda backend). In a build without CUDA, or without a usable GPU, the constructor
/// throws Error.
class GpuTimer {
 public:
  GpuTimer();
  ~GpuTimer();
  GpuTimer(const GpuTimer&) = delete;
  GpuTimer& operator=(const GpuTimer&) = delete;
  /// Records the start event.
  void start();
  /// Records the stop event, waits for it, and returns the seconds between the two.
  double stop();

 private:
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;
};

}  // namespace halfway
