// Chapter 07: after its first step a run allocates no buffer, through more steps, a held-out
// evaluation (batch 200, bigger than training's), a translation and more steps: the trainer
// sizes every buffer once, for the largest batches of the run (Seq2Seq::reserve). And the
// counter sees the difference: sized for training only, the evaluation allocates.
// The backend comes from HALFWAY_TEST_BACKEND (cpu, emu, or cuda in the gpu binary).
#include <doctest/doctest.h>

#include <string_view>

#include "common/device_memory.hpp"
#include "kernels/train/trainer.hpp"
#include "chapters/07_trainer/tests/trainer_helpers.hpp"

using namespace ch07test;

namespace {

constexpr bool kOnDevice = std::string_view(HALFWAY_TEST_BACKEND) != "cpu";

// Allocations on the run's backend from after the first step to the end of: 2 steps, a
// held-out evaluation, a translation, 2 more steps.
template <class S>
unsigned long long allocations_after_first_step(const TrainerOptions& o) {
  Trainer<S> t(o);
  t.step();
  const unsigned long long first = allocation_count(o.backend);
  t.step();
  t.step();
  const EvalResult e = t.evaluate(t.held_out_numbers(), 0, 0);
  CHECK(e.count == int(t.held_out_numbers().size()));
  CHECK(t.translate({7, 512, 999}).size() == 3);
  t.step();
  t.step();
  return allocation_count(o.backend) - first;
}

}  // namespace

TEST_CASE("no allocation after the first step: steps then an evaluation then steps in fp16") {
  TrainerOptions o = tiny(5, amp::ScaleMode::dynamic);
  o.batch = 8;
  CHECK(allocations_after_first_step<half>(o) == 0);
}

TEST_CASE("no allocation after the first step: fp32 with accumulation") {
  TrainerOptions o = tiny(5);
  o.accumulate = 2;
  CHECK(allocations_after_first_step<float>(o) == 0);
}

TEST_CASE("sized for training only an evaluation at batch 200 allocates") {
  TrainerOptions o = tiny(5, amp::ScaleMode::dynamic);
  o.eval_batch = 0;  // the reserve for evaluation off: what the run did before
  CHECK(allocations_after_first_step<half>(o) > 0);
}

// Graph mode (emu and cuda): a replayed step reads its micro-batches from device slots the
// host preloads (BatchUpload::preload). The slots are sized with the other buffers at the
// first step, for the run's largest batch, so neither the first graphed step, nor the
// short last batch of an epoch (20 numbers in batches of 8: 8, 8, 4, a second graph's
// shape), nor an evaluation allocates. Before, each slot was allocated by its first preload.
TEST_CASE("no allocation after the first step with a CUDA graph: a short batch and an evaluation [graph]" *
          doctest::skip(!kOnDevice)) {
  TrainerOptions o = tiny(5, amp::ScaleMode::dynamic);
  o.train_limit = 20;
  o.cuda_graph = CudaGraph::on;
  CHECK(allocations_after_first_step<half>(o) == 0);
}

TEST_CASE("no allocation after the first step with a CUDA graph and accumulation [graph]" * doctest::skip(!kOnDevice)) {
  TrainerOptions o = tiny(5, amp::ScaleMode::dynamic);
  o.accumulate = 2;
  o.cuda_graph = CudaGraph::on;
  CHECK(allocations_after_first_step<half>(o) == 0);
}
