// StepGraph (kernels/train/step_graph.hpp) on the emulator, on a toy step: a copy from a
// pinned buffer the host rewrites between replays, a counter kernel and a kernel that reads
// both, and the fault hook. Replayed N times it gives the bits of N direct runs; a step that waits for the
// device fails its capture with one Error.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/device.cuh"
#include "common/device_memory.hpp"
#include "kernels/train/fault_inject.hpp"
#include "kernels/train/step_graph.hpp"

namespace halfway::emu {
// w = w * 0.75 + x * step: the step counter and the copied data, read in stream order.
__global__ void toy_update(float* w, const float* x, const std::int64_t* step, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) w[i] = w[i] * 0.75f + x[i] * static_cast<float>(*step);
}
}  // namespace halfway::emu

namespace halfway {
namespace {

constexpr int kN = 100;

// Pinned host memory (the emulator's cudaMallocHost), freed with it.
struct Pinned {
  float* p = nullptr;
  Pinned() { REQUIRE(simt::cudaMallocHost(&p, kN * sizeof(float)) == simt::cudaSuccess); }
  ~Pinned() { simt::cudaFreeHost(p); }
};

// The host's input of step k (from 1): different every step.
void fill_input(float* x, int k) {
  for (int i = 0; i < kN; ++i) x[i] = 0.001f * float(i + 1) * float(k % 7 + 1) - 0.05f * float(k);
}

struct Toy {
  Buf<float> w, x;
  Buf<std::int64_t> step;
  Toy() {
    std::vector<float> w0(kN);
    for (int i = 0; i < kN; ++i) w0[i] = 1.0f / float(i + 1);
    copy_in(Backend::emu, w.get(kN, Backend::emu), w0.data(), kN * sizeof(float));
    x.get(kN, Backend::emu);
    const std::int64_t zero = 0;
    copy_in(Backend::emu, step.get(1, Backend::emu), &zero, sizeof zero);
  }
  // One step's device work: the batch copy, the step counter, the fault hook (1000 into
  // x[3] at steps 7 and 8, decided on the device), the update.
  void work(const float* pinned) {
    copy_in(Backend::emu, x.data(), pinned, kN * sizeof(float));
    train::count_step(Backend::emu, step.data());
    const float fault = 1000.0f;
    train::FaultWrite at{7, 2, 0, 4};
    std::memcpy(&at.bits, &fault, sizeof fault);
    train::inject_fault(Backend::emu, step.data(), at, x.data() + 3);
    HALFWAY_LAUNCH(emu::toy_update, (kN + 31) / 32, 32, 0, 0)(w.data(), x.data(), step.data(), kN);
  }
};

}  // namespace

TEST_CASE("a captured toy step replayed 20 times gives the bits of 20 direct runs [graph]") {
  constexpr int kSteps = 20;
  Pinned in;
  Stream stream(Backend::emu);

  Toy direct;
  for (int k = 1; k <= kSteps; ++k) {
    fill_input(in.p, k);
    direct.work(in.p);
    synchronize(Backend::emu);  // the host rewrites `in` next
  }

  Toy replayed;
  train::StepGraph graph(Backend::emu);
  fill_input(in.p, 1);
  graph.capture(stream, [&] { replayed.work(in.p); }, "the toy step");
  // Recorded, not run: the step counter is still 0.
  CHECK(replayed.step.host(1)[0] == 0);
  for (int k = 1; k <= kSteps; ++k) {
    fill_input(in.p, k);  // the captured copy reads the pinned buffer when the graph runs
    graph.replay(stream);
    stream.synchronize();  // the replay has read `in` before the host rewrites it
    // The fault hook decided on the device: the value at steps 7 and 8 only.
    CHECK((replayed.x.host(kN)[3] == 1000.0f) == (k == 7 || k == 8));
  }
  CHECK(graph.replays() == kSteps);
  CHECK(replayed.step.host(1)[0] == kSteps);
  const auto a = direct.w.host(kN), b = replayed.w.host(kN);
  CHECK(std::memcmp(a.data(), b.data(), kN * sizeof(float)) == 0);
  CHECK(a != std::vector<float>(kN, a[0]));  // the step did something
}

TEST_CASE("a step that reads a result back fails its capture with one clear Error [graph]") {
  Stream stream(Backend::emu);
  Toy toy;
  Pinned in;
  fill_input(in.p, 1);
  train::StepGraph graph(Backend::emu);
  std::string message;
  try {
    graph.capture(stream, [&] {
      toy.work(in.p);
      (void)toy.w.host(1);  // a host decision: the value is not there before the graph runs
    }, "step 7");
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("capturing step 7 failed (cudaErrorStreamCaptureUnsupported)") != std::string::npos);
  CHECK(message.find("cudaMemcpyAsync") != std::string::npos);  // what waited
  CHECK_FALSE(graph.ready());
  CHECK_THROWS_AS(graph.replay(stream), Error);
  // The capture is over: the stream and the device work as before.
  toy.work(in.p);
  stream.synchronize();
  CHECK(toy.step.host(1)[0] == 1);
  // And a good capture after the failed one records and replays.
  graph.capture(stream, [&] { toy.work(in.p); }, "step 8");
  graph.replay(stream);
  CHECK(toy.step.host(1)[0] == 2);
}

TEST_CASE("StepGraph refuses the cpu backend [graph]") {
  CHECK_FALSE(train::StepGraph::supported(Backend::cpu));
  CHECK_THROWS_AS(train::StepGraph(Backend::cpu), Error);
}

}  // namespace halfway
