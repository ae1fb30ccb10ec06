// The current stream (common/stream.hpp): inside a StreamScope, a launch with stream 0 and
// the Buf copies go on the scope's stream, so one capture of that stream records all of
// them; outside it they go on the legacy default stream as before.
#include <doctest/doctest.h>

#include <vector>

#include "common/device_memory.hpp"
#include "common/emu/tests/helpers.hpp"
#include "common/stream.hpp"

namespace halfway::emu {
__global__ void add_one_each(float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.0f;
}
}  // namespace halfway::emu

namespace halfway {

TEST_CASE("launches with stream 0 and Buf copies go on the current stream: one capture records them [streams]") {
  Stream stream(Backend::emu);
  REQUIRE(stream.handle() != nullptr);
  auto* s = static_cast<simt::cudaStream_t>(stream.handle());
  Buf<float> buf;
  float* x = buf.get(4, Backend::emu);
  std::vector<float> host = {1, 2, 3, 4};
  simt::cudaGraph_t graph = nullptr;
  {
    StreamScope scope(stream);
    CHECK(current_stream(Backend::emu) == stream.handle());
    REQUIRE(simt::cudaStreamBeginCapture(s, simt::cudaStreamCaptureModeGlobal) == simt::cudaSuccess);
    copy_in(Backend::emu, x, host.data(), 4 * sizeof(float));
    HALFWAY_LAUNCH(emu::add_one_each, 1, 32, 0, 0)(x, 4);
    // Captured, not run: a capture that missed them would have run them on the default stream.
    REQUIRE(simt::cudaStreamEndCapture(s, &graph) == simt::cudaSuccess);
  }
  CHECK(current_stream(Backend::emu) == nullptr);
  simt::cudaGraphExec_t exec = nullptr;
  REQUIRE(simt::cudaGraphInstantiate(&exec, graph) == simt::cudaSuccess);
  host = {10, 20, 30, 40};  // the captured copy reads its source when the graph runs
  REQUIRE(simt::cudaGraphLaunch(exec, s) == simt::cudaSuccess);
  stream.synchronize();
  CHECK(buf.host(4) == std::vector<float>{11, 21, 31, 41});
  simt::cudaGraphExecDestroy(exec);
  simt::cudaGraphDestroy(graph);
}

TEST_CASE("outside a StreamScope the current stream is the legacy default stream [streams]") {
  CHECK(current_stream(Backend::emu) == nullptr);
  CHECK(current_stream(Backend::cpu) == nullptr);
  Stream cpu_stream(Backend::cpu);
  CHECK(cpu_stream.handle() == nullptr);  // the cpu backend has no streams
}

}  // namespace halfway
