// The emulator's runtime counters (common/runtime_counters.hpp): what counts as a launch,
// a copy each way, a blocking wait and an allocation, and a graph replay's counts.
#include <doctest/doctest.h>

#include "common/emu/tests/helpers.hpp"
#include "common/runtime_counters.hpp"

namespace halfway::emu {
__global__ void add_one(float* x) { x[threadIdx.x] += 1.0f; }
}  // namespace halfway::emu

namespace halfway::emu_test {
using namespace ::halfway::emu;

namespace {
// The counts of `f` on emu.
template <class F>
RuntimeCounts counted(F f) {
  const RuntimeCounts before = runtime_counts(Backend::emu);
  f();
  return runtime_counts(Backend::emu) - before;
}
}  // namespace

TEST_CASE("emu counters: launches and copies each way with their bytes and the waits a GPU would make") {
  float *dev = nullptr, *pinned = nullptr;
  const RuntimeCounts allocs = counted([&] {
    REQUIRE(simt::cudaMalloc(&dev, 32 * sizeof(float)) == simt::cudaSuccess);
    REQUIRE(simt::cudaHostAlloc(&pinned, 32 * sizeof(float), simt::cudaHostAllocDefault) == simt::cudaSuccess);
  });
  CHECK(allocs.allocations == 2);
  CHECK(allocs.waits == 0);
  simt::cudaStream_t s = nullptr;
  REQUIRE(simt::cudaStreamCreate(&s) == simt::cudaSuccess);
  float pageable[32] = {};

  // cudaMemcpy to the device: a copy in and a wait (CUDA synchronises the legacy stream first).
  RuntimeCounts c = counted([&] { simt::cudaMemcpy(dev, pageable, sizeof pageable, simt::cudaMemcpyHostToDevice); });
  CHECK(c.h2d == 1);
  CHECK(c.h2d_bytes == sizeof pageable);
  CHECK(c.waits == 1);
  // From pinned memory on a stream: a copy in, no wait.
  c = counted([&] { simt::cudaMemcpyAsync(dev, pinned, 64, simt::cudaMemcpyHostToDevice, s); });
  CHECK(c.h2d == 1);
  CHECK(c.h2d_bytes == 64);
  CHECK(c.waits == 0);
  // A launch and a memset: device work, no wait, no copy.
  c = counted([&] {
    HALFWAY_LAUNCH(add_one, 1, 32, 0, s)(dev);
    simt::cudaMemsetAsync(dev, 0, 16, s);
  });
  CHECK(c.launches == 1);
  CHECK(c.memsets == 1);
  CHECK(c.h2d + c.d2h + c.d2d + c.waits == 0);
  // Into pinned memory on a stream: a copy out, no wait; into pageable memory: a wait.
  c = counted([&] { simt::cudaMemcpyAsync(pinned, dev, 128, simt::cudaMemcpyDeviceToHost, s); });
  CHECK(c.d2h == 1);
  CHECK(c.d2h_bytes == 128);
  CHECK(c.waits == 0);
  c = counted([&] { simt::cudaMemcpyAsync(pageable, dev, 128, simt::cudaMemcpyDeviceToHost, s); });
  CHECK(c.d2h == 1);
  CHECK(c.waits == 1);
  // Within the device: no wait. Synchronisations and cudaFree: waits.
  c = counted([&] { simt::cudaMemcpy(dev + 16, dev, 64, simt::cudaMemcpyDeviceToDevice); });
  CHECK(c.d2d == 1);
  CHECK(c.d2d_bytes == 64);
  CHECK(c.waits == 0);
  c = counted([&] {
    simt::cudaStreamSynchronize(s);
    simt::cudaDeviceSynchronize();
    simt::cudaFree(dev);
    simt::cudaFreeHost(pinned);
  });
  CHECK(c.waits == 4);
  CHECK(c.allocations == 0);
  simt::cudaStreamDestroy(s);
}

TEST_CASE("emu counters: a graph replay is one graph launch and counts the copies it recorded") {
  float *dev = nullptr, *pinned = nullptr;
  REQUIRE(simt::cudaMalloc(&dev, 32 * sizeof(float)) == simt::cudaSuccess);
  REQUIRE(simt::cudaHostAlloc(&pinned, 32 * sizeof(float), simt::cudaHostAllocDefault) == simt::cudaSuccess);
  simt::cudaStream_t s = nullptr;
  REQUIRE(simt::cudaStreamCreate(&s) == simt::cudaSuccess);
  simt::cudaGraph_t graph = nullptr;
  simt::cudaGraphExec_t exec = nullptr;
  const RuntimeCounts capture = counted([&] {
    REQUIRE(simt::cudaStreamBeginCapture(s, simt::cudaStreamCaptureModeGlobal) == simt::cudaSuccess);
    simt::cudaMemcpyAsync(dev, pinned, 32 * sizeof(float), simt::cudaMemcpyHostToDevice, s);
    HALFWAY_LAUNCH(add_one, 1, 32, 0, s)(dev);
    HALFWAY_LAUNCH(add_one, 1, 32, 0, s)(dev);
    REQUIRE(simt::cudaStreamEndCapture(s, &graph) == simt::cudaSuccess);
    REQUIRE(simt::cudaGraphInstantiate(&exec, graph) == simt::cudaSuccess);
  });
  CHECK(capture.h2d == 0);  // recorded, not copied: the replays count it
  const RuntimeCounts replays = counted([&] {
    for (int i = 0; i < 3; ++i) REQUIRE(simt::cudaGraphLaunch(exec, s) == simt::cudaSuccess);
  });
  CHECK(replays.graph_launches == 3);
  CHECK(replays.launches == 0);  // the host launched no kernel
  CHECK(replays.h2d == 3);
  CHECK(replays.h2d_bytes == 3 * 32 * sizeof(float));
  CHECK(replays.waits == 0);
  simt::cudaStreamSynchronize(s);
  simt::cudaGraphExecDestroy(exec);
  simt::cudaGraphDestroy(graph);
  simt::cudaStreamDestroy(s);
  simt::cudaFree(dev);
  simt::cudaFreeHost(pinned);
}

}  // namespace halfway::emu_test
