// common/staging_ring.hpp on the test's backend (HALFWAY_TEST_BACKEND: cpu or emu): an
// upload from a pinned slot is one host-to-device copy that does not make the host wait,
// allocates nothing once the ring is reserved, and lands its bytes; a slot whose copy is
// done comes round again without a wait.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/device_memory.hpp"
#include "common/runtime_counters.hpp"
#include "common/staging_ring.hpp"

using namespace halfway;

namespace {

Backend backend() {  // resolved inside a test, never at static initialisation
  static const Backend chosen = select_backend(HALFWAY_TEST_BACKEND);
  return chosen;
}

// A ring of `slots` slots for `n` ints, and a device buffer of n ints to upload into.
struct Uploads {
  StagingRing ring;
  Buf<std::int32_t> dst;
  Uploads(int slots, std::size_t n) {
    ring.reserve(backend(), slots, n * sizeof(std::int32_t));
    dst.get(n, backend());
  }
  // `values` through the next slot into dst.
  void upload(const std::vector<std::int32_t>& values) {
    const std::size_t bytes = values.size() * sizeof(std::int32_t);
    std::memcpy(ring.acquire(bytes), values.data(), bytes);
    ring.send(dst.data(), bytes);
  }
};

}  // namespace

TEST_CASE("staging ring: an upload is one copy in without a wait or an allocation [staging]") {
  const Backend b = backend();
  Uploads u(2, 16);
  const std::vector<std::int32_t> values{3, -1, 4, 1, 5, -9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3};
  const RuntimeCounts before = runtime_counts(b);
  u.upload(values);
  const RuntimeCounts c = runtime_counts(b) - before;
  INFO(to_string(c));
  CHECK(c.h2d == 1);
  CHECK(c.h2d_bytes == 64);
  CHECK(c.waits == 0);
  CHECK(c.allocations == 0);
  CHECK(u.dst.host(16) == values);  // the read back waits for the copy
}

TEST_CASE("staging ring: a slot whose copy is done comes round again without a wait [staging]") {
  const Backend b = backend();
  Uploads u(2, 2);
  u.upload({1, 2});
  u.upload({3, 4});
  synchronize(b);  // both slots' copies done
  const RuntimeCounts before = runtime_counts(b);
  u.upload({5, 6});  // slot 0 again
  u.upload({7, 8});  // slot 1 again
  const RuntimeCounts c = runtime_counts(b) - before;
  INFO(to_string(c));
  CHECK(c.waits == 0);
  CHECK(c.h2d == 2);
  CHECK(u.dst.host(2) == std::vector<std::int32_t>{7, 8});
}

TEST_CASE("staging ring: an upload larger than a slot is refused with one clear Error [staging]") {
  StagingRing ring;
  ring.reserve(backend(), 1, 8);
  CHECK_THROWS_WITH_AS(ring.acquire(12), doctest::Contains("an upload of at most 8 bytes"), Error);
}
