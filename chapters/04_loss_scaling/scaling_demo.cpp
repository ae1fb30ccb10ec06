// ch04_scaling_demo: the seed's model trained with plain SGD in fp16 with and without
// dynamic loss scaling, and in bf16 without, from the same seed and data order (chapter
// 07's Trainer with everything but the precision and the scaler held fixed: constant
// learning rate, no clipping, fp32 masters). Writes one CSV row per run and step (loss,
// scale, skipped) for plots/ch04_scaling.py, and prints a summary: final loss, skipped
// steps, held-out exact match.
//
// --loss-weight w multiplies the loss by w before backward and divides SGD's rate by w:
// in exact arithmetic the same training, but every gradient is w times smaller, as the
// gradients of a mean over 1/w times more tokens per batch would be. The seed's small
// batches barely underflow (ch04_underflow); w = 2^-16 shows what a large batch would.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/log.hpp"
#include "kernels/train/trainer.hpp"

using namespace halfway;

namespace {

struct Summary {
  std::string run;
  double loss = 0;
  std::int64_t skipped = 0;
  float scale = 1;
  double exact = 0;
};

template <class S>
Summary run(const std::string& name, train::TrainerOptions o, int steps, CsvWriter* out) {
  train::Trainer<S> t(o);
  Summary s{name};
  double avg = 0;
  for (int k = 1; k <= steps; ++k) {
    const train::StepResult r = t.step();
    s.skipped += r.skipped;
    s.scale = r.scale;
    avg = k == 1 ? r.loss : 0.9 * avg + 0.1 * r.loss;
    if (out) out->row(name, r.step, r.loss, r.scale, r.skipped ? 1 : 0, o.loss_weight);
    if (k % 100 == 0) std::printf("  %-22s step %4d  loss %.4f (smoothed %.4f)  scale %g%s\n", name.c_str(), k, r.loss, avg, double(r.scale),
                                  r.skipped ? "  skipped" : "");
  }
  s.loss = avg;
  s.exact = t.evaluate(t.held_out_numbers(), 0, 0).exact_match();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 04: fp16 training with and without loss scaling, bf16 without (plain SGD)"};
  int steps = 300;
  double lr = 0.1, loss_weight = 1.0;
  std::uint64_t seed = 1;
  std::string csv;
  app.add_option("--steps", steps, "SGD steps per run")->check(CLI::Range(1, 100000));
  app.add_option("--lr", lr, "SGD learning rate (constant)")->check(halfway::positive_number());
  app.add_option("--seed", seed, "seed of the weights, the data order and dropout");
  app.add_option("--loss-weight", loss_weight, "multiply the loss by this (and divide the rate by it)")
      ->check(halfway::positive_number());
  add_log_option(app, csv, "one row per run and step: run, step, loss, scale, skipped, loss weight", "--csv");
  return run_program(argc, argv, app, [&] {
    std::unique_ptr<CsvWriter> out;
    if (!csv.empty()) out = std::make_unique<CsvWriter>(csv, std::vector<std::string>{"run", "step", "loss", "scale", "skipped", "loss_weight"});
    train::TrainerOptions o;
    o.seed = seed;
    o.steps = steps;
    o.optimizer = train::OptimizerKind::sgd;
    o.schedule.kind = optim::ScheduleKind::constant;
    o.schedule.peak = lr / loss_weight;
    o.loss_weight = loss_weight;
    o.log_every = 1;  // every step's loss, scale and skip (the CSV)
    o.clip = false;
    std::vector<Summary> rows;
    std::printf("%d steps of SGD (lr %g) on the seed's model and task, batch %d, loss weight %g:\n", steps, lr, o.batch,
                loss_weight);
    o.scaler = train::parse_loss_scaling("dynamic", true);
    rows.push_back(run<half>("fp16, dynamic scaling", o, steps, out.get()));
    o.scaler = train::parse_loss_scaling("off", true);
    rows.push_back(run<half>("fp16, no scaling", o, steps, out.get()));
    rows.push_back(run<bfloat16>("bf16, no scaling", o, steps, out.get()));
    rows.push_back(run<float>("fp32", o, steps, out.get()));
    std::printf("\n%-22s %14s %8s %12s %18s\n", "run", "final loss*", "skipped", "final scale", "held-out exact");
    for (const Summary& s : rows)
      std::printf("%-22s %14.4f %8lld %12g %17.1f%%\n", s.run.c_str(), s.loss, (long long)s.skipped, double(s.scale),
                  100 * s.exact);
    std::printf("(* smoothed: an exponential average of the step losses with weight 0.1)\n");
  });
}
