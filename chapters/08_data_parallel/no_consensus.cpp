// ch08_no_consensus: the ablation of exercise 08.3's found_inf consensus. Under ZeRO-1 each
// rank checks only its own shard of the summed gradients, so an inf planted in one rank's
// gradient (the trainer's fault injection, on the last rank at step --at) is seen by the
// shard's owner alone. Two ZeRO-1 runs side by side on the tiny model, the same data:
// with the consensus (found_inf max-all-reduced: every rank skips) and without it
// (TrainerOptions::found_inf_consensus = false: each rank decides from its own shard, found_inf
// and the norm: with the norms still all-gathered, an inf in one shard makes every rank's norm
// inf, and the rank that saw no inf steps with it: the trainer's guard stops that rank with
// "training diverged ... nothing skipped the step" while the other waits in its next collective).
// Per step, rank 0 prints each rank's skip and loss scale in both runs, and how far the
// run without the consensus has moved from the run with it (the gathered masters).
//
//   mpirun -np 2 build/cpu-only/bin/ch08_no_consensus [--steps 8] [--at 3]
//
// Exit 0 when the runs show what the lesson says: with the consensus every rank skips
// together and keeps one scale; without it the scales part and the weights leave the
// consensus run. ctest runs it under mpirun -np 2.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <vector>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "kernels/dist/communicator.hpp"
#include "kernels/train/trainer.hpp"

using namespace halfway;

namespace {
train::TrainerOptions tiny_zero1(dist::Communicator& comm, bool consensus, int at) {
  train::TrainerOptions o;  // the course's recipe on the tiny model, with dynamic loss scaling
  o.model = train::model_preset("tiny");
  o.batch = 12;
  o.train_limit = 48;
  o.scaler.mode = amp::ScaleMode::dynamic;
  o.clip = false;  // the runs' norms differ (one rank's shard, or all): unclipped, only the skip tells them apart
  o.log_every = 1;  // every step's skip is read from its log
  o.rank = comm.rank();
  o.ranks = comm.size();
  o.shard_optimizer = &comm;
  o.found_inf_consensus = consensus;
  if (comm.rank() == comm.size() - 1) o.fault.step = at;  // the last rank's gradient alone
  return o;
}

// One value of every rank, on every rank, in rank order.
std::vector<float> by_rank(dist::Communicator& comm, float mine) {
  std::vector<float> all(std::size_t(comm.size()));
  all[std::size_t(comm.rank())] = mine;
  comm.all_gather(all.data() + comm.rank(), all.data(), comm.size());
  return all;
}

std::string joined(const std::vector<float>& v, const char* format) {
  std::string s;
  char cell[32];
  for (float x : v) {
    std::snprintf(cell, sizeof cell, format, double(x));
    s += (s.empty() ? "" : " ") + std::string(cell);
  }
  return s;
}

bool all_equal(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [&](float x) { return x == v.front(); });
}

// Both runs side by side, the table on rank 0; Error unless they show the divergence.
void compare(dist::Communicator& comm, int steps, int at) {
  train::TrainerOptions with_o = tiny_zero1(comm, true, at), without_o = tiny_zero1(comm, false, at);
  with_o.steps = without_o.steps = steps;
  train::Trainer<half> with(with_o), without(without_o);
  const bool root = comm.rank() == 0;
  if (root)
    std::printf("%d ranks, ZeRO-1, an inf in rank %d's gradient at step %d; per rank: skipped, loss scale after the "
                "step\n%4s | %-9s %-21s | %-9s %-21s | %s\n", comm.size(), comm.size() - 1, at, "step",
                "skip", "scale (consensus)", "skip", "scale (none)", "max |w_none - w_consensus|");
  bool with_agrees = true, scales_part = false;
  double apart = 0;
  for (int k = 1; k <= steps; ++k) {
    const train::StepResult a = with.step(), b = without.step();
    const std::vector<float> skip_a = by_rank(comm, a.skipped), scale_a = by_rank(comm, with.loss_scale());
    const std::vector<float> skip_b = by_rank(comm, b.skipped), scale_b = by_rank(comm, without.loss_scale());
    const std::vector<float> wa = with.masters_host(), wb = without.masters_host();  // gathered: every rank's
    apart = 0;
    for (std::size_t i = 0; i < wa.size(); ++i) apart = std::max(apart, std::fabs(double(wa[i]) - double(wb[i])));
    with_agrees = with_agrees && all_equal(skip_a) && all_equal(scale_a);
    scales_part = scales_part || !all_equal(scale_b);
    if (root)
      std::printf("%4d | %-9s %-21s | %-9s %-21s | %.3g\n", k, joined(skip_a, "%.0f").c_str(),
                  joined(scale_a, "%.0f").c_str(), joined(skip_b, "%.0f").c_str(), joined(scale_b, "%.0f").c_str(),
                  apart);
  }
  if (root)
    std::printf("consensus: %s; no consensus: %s, the weights %.3g from the consensus run after %d steps\n",
                with_agrees ? "every rank skipped together with one scale" : "THE RANKS DISAGREED",
                scales_part ? "the ranks' scales parted" : "THE SCALES NEVER PARTED", apart, steps);
  if (!with_agrees || !scales_part || !(apart > 0))
    throw Error("the ablation did not show the divergence (see the table)");
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ch08_no_consensus: ZeRO-1 with and without the found_inf consensus (run under mpirun -np 2)"};
  int steps = 8, at = 3;
  app.add_option("--steps", steps, "steps of each run")->capture_default_str()->check(whole_number<int>(1));
  app.add_option("--at", at, "the step whose gradient gets an inf on the last rank")->capture_default_str()
      ->check(whole_number<int>(1));
  return run_program(argc, argv, app, [&] {
    auto comm = dist::make_communicator(Backend::cpu);
    if (comm->size() < 2) throw UsageError("ch08_no_consensus needs two or more ranks: mpirun -np 2 ch08_no_consensus");
    try {
      compare(*comm, steps, at);
    } catch (const std::exception& e) {
      // One rank's error (the trainer's guard, with an empty exercise 08.3 say) must end
      // every rank: the others would wait for it in their next collective forever.
      std::cerr << "ch08_no_consensus: rank " << comm->rank() << ": error: " << e.what() << std::endl;
      dist::abort_all_ranks(1);
    }
  });
}
