// Tests of common/timer.hpp.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "common/backend.hpp"
#include "common/error.hpp"
#include "common/timer.hpp"

using namespace halfway;
using namespace std::chrono_literals;

TEST_CASE("wall timer measures at least the time slept") {
  WallTimer t;
  std::this_thread::sleep_for(20ms);  // sleeps at least 20 ms on the steady clock
  const double s = t.seconds();
  CHECK(s >= 0.020);
  CHECK(s < 10.0);  // only a sanity bound: a loaded machine may be slow
  CHECK(t.milliseconds() >= 20.0);
  t.reset();
  CHECK(t.seconds() < s);
}

TEST_CASE("time_repeated warms up then times each repeat") {
  int calls = 0;
  const Timing t = time_repeated(
      [&] {
        ++calls;
        std::this_thread::sleep_for(2ms);
      },
      2, 5);
  CHECK(calls == 7);
  CHECK(t.repeats == 5);
  CHECK(t.min >= 0.002);
  CHECK(t.min <= t.median);
  CHECK(t.median <= t.max);
  CHECK(t.min <= t.mean);
  CHECK(t.mean <= t.max);
}

TEST_CASE("time_repeated reports the median of the runs") {
  // Runs of 1, 9, 3, 7, 5 ms: the median is the third fastest, 5 ms (plus overhead).
  const int ms[] = {1, 9, 3, 7, 5};
  int i = 0;
  const Timing t = time_repeated([&] { std::this_thread::sleep_for(std::chrono::milliseconds(ms[i++])); }, 0, 5);
  CHECK(t.min >= 0.001);
  CHECK(t.median >= 0.005);
  CHECK(t.max >= 0.009);
  CHECK_THROWS_AS(time_repeated([] {}, 0, 0), Error);
  CHECK_THROWS_AS(time_repeated([] {}, -1, 1), Error);
}

TEST_CASE("gpu timer needs a gpu") {
  if (!gpu_usable()) {
    CHECK_THROWS_AS(GpuTimer(), Error);
    return;
  }
  GpuTimer t;
  t.start();
  CHECK(t.stop() >= 0.0);
}
