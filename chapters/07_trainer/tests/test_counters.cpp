// Chapter 07: what the host does in a training step, as the runtime counts it
// (common/runtime_counters.hpp), against the targets of issue 21 (point 8) at accumulate 1
// in the steady state (after the first step, which allocates the workspaces):
//   0 allocations, 0 blocking waits, 1 host-to-device copy (the packed batch), 0
//   device-to-host copies (1 small record on logging steps), and the lesson's launch count
//   per layer. The cpu launches nothing (it runs its host code in the calling thread).
// Run alone: ctest -L counters (cpu, emu; gpu where there is one).
// The backend comes from HALFWAY_TEST_BACKEND.
#include <doctest/doctest.h>

#include <string_view>

#include "common/runtime_counters.hpp"
#include "kernels/optim/step_log.hpp"
#include "kernels/train/step_profile.hpp"
#include "kernels/train/trainer.hpp"
#include "chapters/07_trainer/tests/trainer_helpers.hpp"

using namespace halfway;
using namespace halfway::train;
using namespace ch07test;

namespace {

constexpr bool kOnDevice = std::string_view(HALFWAY_TEST_BACKEND) != "cpu";
constexpr int kSteady = 3;  // steps after the first (each test case is its own process: keep it short)

// The kernel launches of one layer's forward and backward in fp16 (tiny model, batch 8): the
// counts chapter 07's lesson gives ("What the host must not do in a step"), measured as
// the difference between a step of a model with 2 and with 1 layer of that kind.
constexpr unsigned long long kEncoderLayerLaunches = 55, kDecoderLayerLaunches = 96;

TrainerOptions fp16_run(int encoder_layers = 1, int decoder_layers = 1, int steady = kSteady) {
  TrainerOptions o = tiny(1 + steady, amp::ScaleMode::dynamic);
  o.model.encoder_layers = encoder_layers;
  o.model.decoder_layers = decoder_layers;
  o.accumulate = 1;
  return o;
}

StepProfile profile(const TrainerOptions& o) {
  Trainer<half> t(o);
  StepProfile p(o.backend, o.steps - 1);
  while (!p.complete()) {
    p.begin_step();
    t.step();
    p.end_step();
  }
  return p;
}

// The default tiny run, profiled once for the test cases below.
const StepProfile& steady_run() {
  static const StepProfile p = profile(fp16_run());
  return p;
}

// A run that logs every third step: steps 3 and 6 read the step log (one record, one wait
// for its event), steps 4 and 5 read nothing.
const StepProfile& logging_run() {
  static const StepProfile p = [] {
    TrainerOptions o = fp16_run(1, 1, 5);
    o.log_every = 3;
    return profile(o);
  }();
  return p;
}
bool logging_step(std::size_t steady_index) { return (steady_index + 2) % 3 == 0; }  // steps 2.. -> 3, 6

}  // namespace

TEST_CASE("counters: a steady step allocates nothing [counters]") {
  for (const RuntimeCounts& c : steady_run().steady()) {
    INFO(to_string(c));
    CHECK(c.allocations == 0);
  }
  CHECK(steady_run().first().allocations > 0);  // the counter sees the first step's buffers
}

// Issue 21, blocking waits: only a logging step waits (for the event after its record's
// copy). The batch goes in from a pinned staging slot (common/staging_ring.hpp), an async
// copy that does not wait; a slot comes round again one log period later, after the log's
// read waited for its copy.
TEST_CASE("counters: a steady step blocks the host only to read its log [counters]") {
  const auto& steady = logging_run().steady();
  for (std::size_t i = 0; i < steady.size(); ++i) {
    INFO(to_string(steady[i]));
    CHECK(steady[i].waits == (logging_step(i) && kOnDevice ? 1u : 0u));
  }
}

// Host-to-device copies: one a step on a device, the packed batch. The cpu's layers read
// the host batch in place: its device memory is host memory, so there is nothing to copy.
TEST_CASE("counters: a steady step copies one batch in [counters]") {
  for (const RuntimeCounts& c : steady_run().steady()) {
    INFO(to_string(c));
    CHECK(c.h2d == (kOnDevice ? 1u : 0u));
  }
}

// Device-to-host copies: a logging step reads one record (the step log: loss, norms, scale,
// skips, the step's rate), the other steps nothing. The cpu reads its record in place.
TEST_CASE("counters: only a logging step reads back and only its record [counters]") {
  const auto& steady = logging_run().steady();
  REQUIRE(steady.size() == 5);
  for (std::size_t i = 0; i < steady.size(); ++i) {
    INFO(to_string(steady[i]));
    const bool read = logging_step(i) && kOnDevice;
    CHECK(steady[i].d2h == (read ? 1u : 0u));
    CHECK(steady[i].d2h_bytes == (read ? sizeof(optim::StepLog) : 0u));
  }
}

TEST_CASE("counters: every steady step launches the same kernels and each layer the lesson's count [counters]") {
  const auto& steady = steady_run().steady();
  REQUIRE(steady.size() == std::size_t(kSteady));
  for (const RuntimeCounts& c : steady) {
    INFO(to_string(c));
    CHECK(c.launches == steady.front().launches);  // no host decision adds or drops a launch
    if (!kOnDevice) CHECK(c.launches == 0);       // the cpu launches nothing
  }
  if (!kOnDevice) return;
  const unsigned long long base = steady.front().launches;
  CHECK(profile(fp16_run(2, 1, 1)).steady().front().launches - base == kEncoderLayerLaunches);
  CHECK(profile(fp16_run(1, 2, 1)).steady().front().launches - base == kDecoderLayerLaunches);
}
