// The trainer's data-parallel hook (TrainerOptions::after_backward) with kernels/dist's
// sum_gradients. Every rank trains on the same batches (the batch split is not built yet)
// with the loss weight divided by N. The reference is one process with the same loss weight
// whose hook adds its gradient to itself N - 1 times: for N <= 2 that is exactly the sum of N
// equal copies (x + x = 2x in any order), so the ranks must match it bit for bit, and each
// other. (One process with loss weight 1 is no exact reference: halving the loss moves
// some fp16 activation gradients into subnormals; measured: the gradient norms agree for 5
// steps, then differ in the 6th digit.) Run alone and under mpirun -np 2.
#include <doctest/doctest.h>

#include <cstring>

#include "kernels/dist/gradient_sync.hpp"
#include "kernels/train/data.hpp"
#include "kernels/train/trainer.hpp"
#include "world.hpp"

using namespace halfway;
using namespace halfway::dist;
using namespace halfway::dist::testing;  // world(), rank_values(), on_every_rank()

namespace {
train::TrainerOptions tiny_fp16() {
  train::TrainerOptions o;
  o.model = train::model_preset("tiny");
  o.seed = 7;
  o.batch = 8;
  o.train_limit = 24;
  o.steps = 6;
  o.schedule.warmup = 3;
  o.schedule.factor = 1.0;
  o.scaler.mode = amp::ScaleMode::dynamic;
  return o;
}
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
}  // namespace

TEST_CASE("data parallel step: ranks on the same batches with averaged gradients match one process bit for bit") {
  Communicator& comm = world();
  train::TrainerOptions single = tiny_fp16(), parallel = tiny_fp16();
  single.loss_weight = parallel.loss_weight = 1.0 / comm.size();
  single.after_backward = [&](const amp::GradBuffer& g) {
    REQUIRE(g.dtype == DType::f32);  // the default gradient storage: fp32, on the cpu
    float* x = static_cast<float*>(g.data);
    for (std::int64_t i = 0; i < g.count; ++i) x[i] += float(comm.size() - 1) * x[i];
  };
  int synced = 0;
  parallel.after_backward = [&](const amp::GradBuffer& g) {
    sum_gradients(comm, g, Accumulate::fp32);
    ++synced;
  };
  train::Trainer<half> one(single), dp(parallel);
  for (int k = 0; k < 6; ++k) {
    const train::StepResult a = one.step(), b = dp.step();
    CAPTURE(k);
    CHECK(a.skipped == b.skipped);
    CHECK(a.grad_norm == b.grad_norm);
    // The scale stays identical everywhere: the max over the ranks equals this rank's.
    float scale = dp.loss_scale(), highest = scale;
    comm.all_reduce(&highest, 1, ReduceOp::max);
    CHECK(on_every_rank(highest == scale && scale == one.loss_scale()));
  }
  CHECK(synced == 6);  // once a step
  CHECK(same_bits(one.masters_host(), dp.masters_host()));
  // And every rank holds rank 0's masters.
  std::vector<float> mine = dp.masters_host(), root = mine;
  comm.broadcast(root.data(), std::int64_t(root.size() * sizeof(float)), 0);
  CHECK(on_every_rank(same_bits(mine, root)));
}

TEST_CASE("data parallel step: the ranks' shares of a micro-batch are the global batch in order") {
  std::vector<int> numbers(50);
  for (int i = 0; i < 50; ++i) numbers[std::size_t(i)] = i;
  train::DataOrder global(numbers, 16, 3);  // batches of 16, the last of each epoch 2
  for (int ranks : {1, 2, 3}) {
    std::vector<train::DataOrder> shards;
    for (int r = 0; r < ranks; ++r) {
      shards.emplace_back(numbers, 16, 3);
      shards.back().set_shard(r, ranks);
    }
    for (std::int64_t k : {0, 1, 2, 4, 5, 6}) {  // k = 3 and 7: 2 numbers, fewer than 3 ranks
      CAPTURE(ranks);
      CAPTURE(k);
      std::vector<int> joined;
      for (auto& s : shards) {
        const std::vector<int> part = s.batch(k);
        joined.insert(joined.end(), part.begin(), part.end());
      }
      CHECK(joined == global.batch(k));
    }
  }
  train::DataOrder third(numbers, 16, 3);
  third.set_shard(2, 3);
  CHECK_THROWS_WITH_AS(third.batch(3), doctest::Contains("2 numbers for 3 ranks"), halfway::Error);
}
