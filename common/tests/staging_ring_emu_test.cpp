// common/staging_ring.hpp and common/device_event.hpp under the emulator in async mode,
// where queued work runs only at a synchronisation point: a slot's event is pending until
// the queue runs, a full ring waits for its next slot's copy (one blocking wait, counted),
// and an event's query never counts a wait.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/device_event.hpp"
#include "common/device_memory.hpp"
#include "common/emu/queue.hpp"
#include "common/runtime_counters.hpp"
#include "common/staging_ring.hpp"

using namespace halfway;

namespace {

struct AsyncOn {
  AsyncOn() { simt::set_async_mode(true); }
  ~AsyncOn() { simt::reset_async_mode(); }
};

}  // namespace

TEST_CASE("device event: pending until the queue runs and a query is no wait [staging]") {
  const AsyncOn async;
  Buf<std::int32_t> dst;
  dst.get(1, Backend::emu);
  const std::int32_t one = 1;
  copy_in(Backend::emu, dst.data(), &one, sizeof one);  // a pageable copy: queued, staged
  DeviceEvent e(Backend::emu);
  e.record();
  const RuntimeCounts before = runtime_counts(Backend::emu);
  CHECK_FALSE(e.done());  // still queued (the query lets the device run up to it)
  CHECK((runtime_counts(Backend::emu) - before).waits == 0);
  e.wait();
  CHECK(e.done());
  CHECK((runtime_counts(Backend::emu) - before).waits == 1);
}

TEST_CASE("staging ring: a full ring waits once for its next slot's copy [staging]") {
  const AsyncOn async;
  StagingRing ring;
  ring.reserve(Backend::emu, 2, 4);
  Buf<std::int32_t> dst;
  dst.get(1, Backend::emu);
  synchronize(Backend::emu);
  const RuntimeCounts before = runtime_counts(Backend::emu);
  for (std::int32_t v = 1; v <= 3; ++v) {  // the third reuses slot 0, whose copy is still queued
    std::memcpy(ring.acquire(4), &v, 4);
    ring.send(dst.data(), 4);
  }
  const RuntimeCounts c = runtime_counts(Backend::emu) - before;
  INFO(to_string(c));
  CHECK(c.waits == 1);
  CHECK(c.h2d == 3);
  CHECK(dst.host(1) == std::vector<std::int32_t>{3});
}
