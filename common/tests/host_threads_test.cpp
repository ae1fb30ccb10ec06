// The default host thread count (common/host_threads.hpp): within [1, the CPUs this process
// may use], the CPUs less the rounded load, and one CPU in the affinity mask gives 1.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "common/host_threads.hpp"

#if defined(__linux__)
#include <sched.h>
#endif

using namespace halfway;

TEST_CASE("host threads: the default is the usable CPUs less the rounded load and at least 1") {
  const HostThreads h = default_host_threads();
  CHECK(h.cpus >= 1);
  CHECK(h.load >= 0.0);
  CHECK(h.threads == std::clamp(h.cpus - int(std::lround(h.load)), 1, h.cpus));
  CHECK(h.describe().find(std::to_string(h.threads) + " (") == 0);
#if defined(__linux__)
  cpu_set_t all;
  REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
  CHECK(h.cpus <= CPU_COUNT(&all));
  // The first CPU of the mask only: the process may use one CPU, so one thread.
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  const HostThreads pinned = default_host_threads();
  REQUIRE(sched_setaffinity(0, sizeof all, &all) == 0);
  CHECK(pinned.cpus == 1);
  CHECK(pinned.threads == 1);
#endif
}
