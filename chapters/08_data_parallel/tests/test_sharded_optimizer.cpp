// ZeRO-1 (kernels/dist/sharded_optimizer.hpp, TrainerOptions::shard_optimizer) against the
// unsharded data-parallel step (every rank all-reduces the whole gradient and updates every
// weight). Both trainers run on the same rank, on the same batches (their shares of each
// batch), each rank's loss weighted by its share of the batch's tokens. Run alone (one rank
// owns everything) and under mpirun -np 2 and -np 3: the tiny model's store holds 24,704 values (ch08_memory_per_rank
// --size tiny), so 3 ranks own 8,235, 8,235 and 8,234 of them (uneven shards).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "kernels/dist/gradient_sync.hpp"
#include "kernels/train/trainer.hpp"
#include "tiny_trainer.hpp"
#include "world.hpp"

using namespace halfway;
using namespace halfway::dist;
using namespace halfway::dist::testing;

namespace {
train::TrainerOptions tiny(bool sharded) {
  Communicator& comm = world();
  train::TrainerOptions o = tiny_trainer_options(12, 48, 8);
  o.rank = comm.rank();
  o.ranks = comm.size();
  if (sharded) o.shard_optimizer = &comm;
  else o.after_backward = [&comm](const amp::GradBuffer& g) { sum_gradients(comm, g, Accumulate::fp32); };
  return o;
}
// The scale stays identical everywhere: the max and the min over the ranks equal this rank's.
bool same_scale_everywhere(float scale) {
  float highest = scale, lowest = -scale;
  world().all_reduce(&highest, 1, ReduceOp::max);
  world().all_reduce(&lowest, 1, ReduceOp::max);
  return on_every_rank(highest == scale && -lowest == scale);
}
// One folder name for every rank: rank 0's pid.
std::string shared_folder(const char* what) {
  float pid = float(getpid() % 1000000);
  world().broadcast(&pid, sizeof pid, 0);
  return (std::filesystem::temp_directory_path() / (std::string("halfway_zero1_") + what + "_" +
                                                    std::to_string(int(pid)))).string();
}
}  // namespace

// The norm: ZeRO-1 sums the shards' squared norms (each a float) in double, the unsharded
// step sums every square in grad_norm's blocks. Each shard norm is rounded once (2^-24
// relative, 2^-23 in its square), the double sums differ by ~1e-16, the square root halves
// the relative error and the result is rounded once more: |a - b| <= 2^-23 |b|. For N = 3
// the gradients themselves may differ in their last bit (MPI's reduce-scatter and
// all-reduce add three values in their own orders: 2^-23 relative per element, measured:
// they do differ), so the first step's norms are checked with 2^-21, later ones for N <= 2
// only (for N = 3 the weights have moved apart by then).
namespace {
bool norms_agree(float a, float b) { return std::fabs(double(a) - double(b)) <= std::ldexp(double(a), -21); }

// Adam moves an element by at most lr_t B_t in step t whatever its gradients
// (test_data_parallel_step.cpp's adam_step_bound; for b1 = 0.9, b2 = 0.999 B_t <= sqrt(t):
// B_8 = 1.03), so two runs that differ by rounding differ by at most sum_t 2 lr_t sqrt(t).
double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

// Both trainers `steps` steps side by side: the same skips and scales, one scale on every
// rank, the first step's norms in agreement (every step's when `every_norm`). Returns the
// Adam bound of the runs' difference, sum_t 2 lr_t sqrt(t).
double side_by_side(train::Trainer<half>& dp, train::Trainer<half>& zero, int steps, bool every_norm) {
  double bound = 0;
  for (int k = 1; k <= steps; ++k) {
    CAPTURE(k);
    const train::StepResult x = dp.step(), y = zero.step();
    CHECK(x.skipped == y.skipped);
    if (k == 1 || every_norm) CHECK(norms_agree(x.grad_norm, y.grad_norm));
    CHECK(x.scale == y.scale);
    CHECK(same_scale_everywhere(zero.loss_scale()));
    bound += 2 * x.lr * std::sqrt(double(k));
  }
  return bound;
}
}  // namespace

// Clip off: the fused element function gets the same inputs whenever the gradient sums are
// the same, as they are for N <= 2 (a + b in any order): then bit for bit. N = 3: the bound.
TEST_CASE("sharded optimizer: ZeRO-1 equals the unsharded data-parallel step bit for bit with the clip off") {
  train::TrainerOptions a = tiny(false), b = tiny(true);
  a.clip = b.clip = false;
  train::Trainer<half> dp(a), zero(b);
  const double bound = side_by_side(dp, zero, 8, world().size() <= 2);
  if (world().size() <= 2) {
    CHECK(on_every_rank(same_bits(dp.masters_host(), zero.masters_host())));
    CHECK(on_every_rank(same_bits(dp.moments_host(), zero.moments_host())));
    CHECK(on_every_rank(same_bits(dp.weights_host(), zero.weights_host())));
  } else {
    const double worst = largest_difference(dp.masters_host(), zero.masters_host());
    MESSAGE("largest master difference " << worst << " (bound " << bound << ")");
    CHECK(on_every_rank(worst <= bound));
  }
}

// Clip on (max_norm 1 binds in these first steps): the coefficient min(1, 1 / (norm + 1e-6))
// inherits the norms' last-bit difference, so an update may differ in its last bits and
// Adam carries that on (measured at N = 2: the norms part in the 6th digit by step 4). The
// first step's norms agree (above); the masters stay within the Adam bound.
TEST_CASE("sharded optimizer: ZeRO-1 with the clip on stays within the derived bound of the unsharded step") {
  train::TrainerOptions a = tiny(false), b = tiny(true);
  train::Trainer<half> dp(a), zero(b);
  const double bound = side_by_side(dp, zero, 8, false);
  const double worst = largest_difference(dp.masters_host(), zero.masters_host());
  MESSAGE("largest master difference " << worst << " (bound " << bound << ")");
  CHECK(on_every_rank(worst <= bound));
}

// An inf in one rank's gradient lands after the reduce-scatter in one shard only: the
// owner alone sees it. Without the found_inf consensus that rank skips and halves its scale
// while the others step: weights and scales would differ from then on.
TEST_CASE("sharded optimizer: an overflow on one rank makes every rank skip and the scale stays identical") {
  train::TrainerOptions a = tiny(false), b = tiny(true);
  if (world().rank() == world().size() - 1) a.fault.step = b.fault.step = 3;  // the last rank alone
  train::Trainer<half> dp(a), zero(b);
  for (int k = 1; k <= 5; ++k) {
    CAPTURE(k);
    const float before = zero.loss_scale();
    const train::StepResult x = dp.step(), y = zero.step();
    CHECK(on_every_rank(y.skipped == (k == 3)));
    CHECK(x.skipped == y.skipped);
    if (k == 3) CHECK(zero.loss_scale() == before / 2);
    CHECK(same_scale_everywhere(zero.loss_scale()));
  }
  CHECK(on_every_rank(std::isfinite(zero.masters_host()[0])));
}

// Checkpoints: one file of chapter 07's format with the full gathered state. What stays
// bit-identical: the resumed trainer's gathered masters and moments are the saved ones,
// sharded or not; a run saved and resumed sharded continues exactly as the run that never
// stopped. Across the two kinds (saved sharded, resumed unsharded, and the other way) the
// continuation is the other kind's step from the same state: bit for bit for N <= 2 (clip
// off, first test), for N = 3 the same Adam bound.
TEST_CASE("sharded optimizer: a checkpoint resumes sharded and unsharded") {
  const std::string dir = shared_folder("ckpt");
  const auto opts = [](bool sharded) {
    train::TrainerOptions o = tiny(sharded);
    o.clip = false;
    return o;
  };
  const bool exact_across = world().size() <= 2;
  train::Trainer<half> through(opts(true)), unsharded_through(opts(false));
  const double bound = side_by_side(unsharded_through, through, 6, exact_across);
  const auto close = [&](const std::vector<float>& a, const std::vector<float>& b) {
    return exact_across ? same_bits(a, b) : largest_difference(a, b) <= bound;
  };
  {
    train::Trainer<half> first(opts(true));
    for (int k = 0; k < 4; ++k) first.step();
    const auto masters = first.masters_host(), moments = first.moments_host();
    first.save(dir);  // every rank gathers, rank 0 writes
    world().barrier();
    for (bool sharded : {true, false}) {
      CAPTURE(sharded);
      train::Trainer<half> resumed(opts(sharded));
      resumed.load(dir);
      CHECK(on_every_rank(same_bits(resumed.masters_host(), masters)));
      CHECK(on_every_rank(same_bits(resumed.moments_host(), moments)));
      for (int k = 0; k < 2; ++k) resumed.step();
      if (sharded) CHECK(on_every_rank(same_bits(resumed.masters_host(), through.masters_host())));
      else CHECK(on_every_rank(close(resumed.masters_host(), through.masters_host())));
    }
  }
  world().barrier();
  {  // saved unsharded (rank 0 writes), resumed sharded
    train::Trainer<half> first(opts(false));
    for (int k = 0; k < 4; ++k) first.step();
    const auto masters = first.masters_host();
    if (world().rank() == 0) first.save(dir);
    world().barrier();
    train::Trainer<half> resumed(opts(true));
    resumed.load(dir);
    CHECK(on_every_rank(same_bits(resumed.masters_host(), masters)));
    for (int k = 0; k < 2; ++k) resumed.step();
    CHECK(on_every_rank(close(resumed.masters_host(), unsharded_through.masters_host())));
  }
  world().barrier();
  if (world().rank() == 0) std::filesystem::remove_all(dir);
}

// fp32 training: the working copies are the masters (no second copy), so ZeRO-1 shards
// Adam's moments only and all-gathers the fp32 weights.
TEST_CASE("sharded optimizer: fp32 shards the moments and gathers the weights") {
  train::TrainerOptions a = tiny(false), b = tiny(true);
  a.clip = b.clip = false;
  a.scaler.mode = b.scaler.mode = amp::ScaleMode::off;
  train::Trainer<float> dp(a), zero(b);
  for (int k = 0; k < 4; ++k) dp.step(), zero.step();
  if (world().size() <= 2) CHECK(on_every_rank(same_bits(dp.masters_host(), zero.masters_host())));
  CHECK(on_every_rank(same_bits(zero.masters_host(), zero.weights_host())));
  const layers::StoreBytes s = zero.store_bytes(), u = dp.store_bytes();
  CHECK(s.masters == u.masters);  // the weights themselves: every rank needs all of them
  if (world().size() > 1) CHECK(s.moments < u.moments);
}

TEST_CASE("sharded optimizer: stochastic rounding is refused with one clear line") {
  train::TrainerOptions o = tiny(true);
  o.master = optim::MasterMode::stochastic;
  CHECK_THROWS_WITH_AS(train::Trainer<half>{o}, doctest::Contains("--shard-optimizer takes --master on or off"),
                       UsageError);
}
