// The trainer's steps replayed from a CUDA graph (--cuda-graph on, kernels/train/step_graph.hpp)
// against the same steps run directly, on the emulator: the same bits in the weights, the
// masters, Adam's moments and the scaler's state, through an injected overflow (a skipped
// step and a backoff) that the device decides (kernels/train/fault_inject.hpp).
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "kernels/train/trainer.hpp"
#include "kernels/train/trainer_state.hpp"

using namespace halfway;
using namespace halfway::train;

namespace {

// A tiny fp16 run with dynamic loss scaling that grows every 8 clean steps, and dropout (its
// seed read from the batch's header on the device, so each replay draws its own masks).
TrainerOptions graph_run(int steps, int accumulate, const char* fault, CudaGraph graph) {
  TrainerOptions o;
  o.model = model_preset("tiny");
  o.backend = Backend::emu;
  o.batch = 4;
  o.accumulate = accumulate;
  o.train_limit = 16;
  o.steps = steps;
  o.scaler.mode = amp::ScaleMode::dynamic;
  o.scaler.rule.growth_interval = 8;
  o.fault = parse_fault(fault);
  o.cuda_graph = graph;
  return o;
}

struct Bits {
  std::vector<float> weights, masters, moments;
  amp::ScaleState scaler;
  std::int64_t skipped = 0, replays = 0;
};

Bits run_steps(const TrainerOptions& o) {
  Trainer<half> t(o);
  Bits b;
  StepResult last;
  for (std::int64_t k = 0; k < o.steps; ++k) last = t.step();
  b.skipped = last.skipped_steps;  // the run's last step reads the device's log
  b.weights = t.weights_host();
  b.masters = t.masters_host();
  b.moments = t.moments_host();
  b.scaler = t.impl().scaler.state();
  b.replays = t.impl().replayed_steps;
  return b;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_same(const Bits& direct, const Bits& replayed) {
  CHECK(same_bits(direct.weights, replayed.weights));
  CHECK(same_bits(direct.masters, replayed.masters));
  CHECK(same_bits(direct.moments, replayed.moments));
  CHECK(direct.scaler.scale == replayed.scaler.scale);
  CHECK(direct.scaler.growth_tracker == replayed.scaler.growth_tracker);
  CHECK(direct.scaler.hysteresis_left == replayed.scaler.hysteresis_left);
  CHECK(direct.skipped == replayed.skipped);
}

}  // namespace

TEST_CASE("50 steps replayed from a graph give the bits of 50 direct steps through an injected overflow [graph]") {
  const Bits direct = run_steps(graph_run(50, 1, "inf@20", CudaGraph::off));
  const Bits replayed = run_steps(graph_run(50, 1, "inf@20", CudaGraph::on));
  // The injected inf at step 20, and one overflow of a scale grown every 8 clean steps.
  CHECK(direct.skipped == 2);
  CHECK(direct.replays == 0);
  CHECK(replayed.replays == 50 - Trainer<half>::Impl::kDirectSteps);
  check_same(direct, replayed);
}

TEST_CASE("with accumulation the graph records every micro-batch of the step [graph]") {
  const Bits direct = run_steps(graph_run(12, 3, "nan@5", CudaGraph::off));
  const Bits replayed = run_steps(graph_run(12, 3, "nan@5", CudaGraph::on));
  CHECK(direct.skipped == 1);
  CHECK(replayed.replays == 12 - Trainer<half>::Impl::kDirectSteps);
  check_same(direct, replayed);
}
