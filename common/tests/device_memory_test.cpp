// Tests of common/device_memory.hpp: Buf on an explicit backend and on the layers' backend,
// growth, moves, and the copies. cpu and emu only (both are host memory here; the cuda
// path runs in every gpu test that uploads data).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/device_memory.hpp"
#include "common/error.hpp"

using namespace halfway;

TEST_CASE("a Buf allocates on the backend it is asked for and keeps its contents when it grows") {
  Buf<float> b;
  CHECK(b.size() == 0);
  CHECK(b.data() == nullptr);
  float* p = b.get(3, Backend::emu);
  CHECK(b.where() == Backend::emu);
  CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
  const std::vector<float> v{1.5f, -2.0f, 3.25f};
  copy_in(Backend::emu, p, v.data(), 3 * sizeof(float));
  CHECK(b.get(2, Backend::emu) == p);  // no shrinking, no reallocation
  b.get(1000, Backend::emu);           // grows: the first three values move along
  CHECK(b.size() == 1000);
  CHECK(b.bytes() == 4000);
  CHECK(b.host(3) == v);
  CHECK_THROWS_WITH_AS(b.host(1001), doctest::Contains("at most 1000 elements"), Error);
  b.get(4, Backend::cpu);  // another backend: a fresh buffer
  CHECK(b.where() == Backend::cpu);
  CHECK(b.size() == 4);
}

TEST_CASE("a Buf without a backend follows the layers' backend and double stays on the cpu") {
  Buf<float> f;
  Buf<double> d;
  {
    layers::BackendScope scope(Backend::emu);
    f.get(8);
    d.get(8);
  }
  CHECK(f.where() == Backend::emu);
  CHECK(d.where() == Backend::cpu);
  f.get(8);
  CHECK(f.where() == Backend::cpu);
}

TEST_CASE("device_copy and moves carry the values") {
  const std::vector<std::uint16_t> v{1, 2, 3, 65535};
  Buf<std::uint16_t> a = device_copy(Backend::emu, v);
  CHECK(a.host(4) == v);
  Buf<std::uint16_t> b = std::move(a);
  CHECK(a.data() == nullptr);
  CHECK(b.host(4) == v);
  Buf<std::uint16_t> c;
  c = std::move(b);
  CHECK(to_host(Backend::emu, c.data(), 4) == v);
  Buf<float> empty = device_copy(Backend::emu, std::vector<float>{});
  CHECK(empty.host(0).empty());
}

TEST_CASE("on the cpu a Buf's allocation and copies count as a GPU's would (runtime_counters.hpp)") {
  const RuntimeCounts before = runtime_counts(Backend::cpu);
  Buf<float> b;
  float* p = b.get(8, Backend::cpu);
  const std::vector<float> v(8, 1.0f);
  copy_in(Backend::cpu, p, v.data(), 8 * sizeof(float));
  std::vector<float> back(4);
  copy_out(Backend::cpu, back.data(), p, 4 * sizeof(float));
  copy_within(Backend::cpu, p + 4, p, 2 * sizeof(float));
  const RuntimeCounts c = runtime_counts(Backend::cpu) - before;
  CHECK(c.allocations == 1);
  CHECK(c.h2d == 1);
  CHECK(c.h2d_bytes == 32);
  CHECK(c.d2h == 1);
  CHECK(c.d2h_bytes == 16);
  CHECK(c.d2d == 1);
  CHECK(c.d2d_bytes == 8);
  CHECK(c.waits == 0);     // the cpu never waits for anything
  CHECK(c.launches == 0);  // nor launches
}
