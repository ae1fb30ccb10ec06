// default_host_threads (common/host_threads.hpp).
#include "common/host_threads.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif

namespace halfway {

namespace {

// CPUs a cgroup's quota allows (ceil(quota / period)), or 0 without a quota. cgroup v2's
// cpu.max ("max 100000" or "150000 100000"), then v1's cfs files.
int cgroup_cpu_limit() {
  double quota = -1, period = 0;
  if (std::ifstream f("/sys/fs/cgroup/cpu.max"); f) {
    std::string q;
    if (f >> q >> period && q != "max") quota = std::stod(q);
  } else if (std::ifstream q("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p("/sys/fs/cgroup/cpu/cpu.cfs_period_us"); q && p) {
    q >> quota;
    p >> period;
  }
  return quota > 0 && period > 0 ? std::max(1, int(std::ceil(quota / period))) : 0;
}

}  // namespace

std::string HostThreads::describe() const {
  char b[96];
  std::snprintf(b, sizeof b, "%d (%d cpu%s, load %.1f)", threads, cpus, cpus == 1 ? "" : "s", load);
  return b;
}

HostThreads default_host_threads() {
  HostThreads h;
  h.cpus = int(std::max(1u, std::thread::hardware_concurrency()));
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) h.cpus = std::max(1, CPU_COUNT(&set));
  if (const int limit = cgroup_cpu_limit(); limit > 0) h.cpus = std::min(h.cpus, limit);
  if (std::ifstream f("/proc/loadavg"); !(f >> h.load)) h.load = 0.0;
#endif
  h.threads = std::clamp(h.cpus - int(std::lround(h.load)), 1, h.cpus);
  return h;
}

}  // namespace halfway
