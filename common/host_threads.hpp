/// @file host_threads.hpp
/// @brief How many host threads a program uses when the user does not say: the CPUs this
/// process may run on, less those that other work keeps busy.
///
/// OpenMP and OpenBLAS each start one thread per CPU of the process's affinity mask. That is
/// right on an idle machine and a collapse on a busy one: every parallel region ends at a
/// barrier that waits for its slowest thread, and a thread without a core waits a scheduler
/// time slice for one. halfway-train --precision fp32 on the 2-core course VM at load 17:
/// 243 ms a step on one thread, 1696 ms on two (chapter 07's lesson, roofline/course_run_time.py).
/// One thread loses at most the parallel speed-up; too many lose several times the step.
#pragma once

#include <string>

namespace halfway {

/// What the default thread count was made of (for a program's banner).
struct HostThreads {
  int cpus = 1;          ///< CPUs this process may use: the affinity mask, capped by a cgroup CPU quota
  double load = 0.0;     ///< the 1-minute load average when the program started
  int threads = 1;       ///< cpus less the busy ones (the load, rounded), at least 1
  std::string describe() const;  ///< "1 (2 cpus, load 13.9)"
};

/// The default thread count: cpus - round(load), between 1 and cpus (Linux; elsewhere the
/// hardware's thread count, load 0). Reads /proc/loadavg and the cgroup's cpu.max.
HostThreads default_host_threads();

}  // namespace halfway
