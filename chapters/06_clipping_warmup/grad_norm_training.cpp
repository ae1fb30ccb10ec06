// ch06_grad_norm: the global gradient norm (before clipping) and the loss of the seed's
// model over a few hundred Adam steps (chapter 07's trainer, fp32, cpu), in four runs from
// the same seed and data order: Noam warmup and clipping at 1.0 (the defaults), no warmup
// (a constant rate at Noam's peak) with clipping, warmup without clipping, and neither.
// One CSV row per run and step for plots/ch06_grad_norm.py; a summary on the terminal.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/log.hpp"
#include "kernels/train/trainer.hpp"

using namespace halfway;

int main(int argc, char** argv) {
  CLI::App app{"Chapter 06: the gradient norm before clipping over training, with and without warmup and clipping"};
  int steps = 200;
  std::uint64_t seed = 1;
  std::string csv;
  app.add_option("--steps", steps, "Adam steps per run")->check(CLI::Range(2, 100000));
  app.add_option("--seed", seed, "seed of the weights, the data order and dropout");
  add_log_option(app, csv, "one row per run and step: run, step, loss, lr, grad_norm, clipped", "--csv");
  return run_program(argc, argv, app, [&] {
    std::unique_ptr<CsvWriter> out;
    if (!csv.empty())
      out = std::make_unique<CsvWriter>(csv, std::vector<std::string>{"run", "step", "loss", "lr", "grad_norm", "max_norm"});
    struct Run {
      const char* name;
      bool warmup, clip;
    };
    const Run runs[] = {{"warmup + clip 1.0", true, true},
                        {"no warmup + clip 1.0", false, true},
                        {"warmup, no clipping", true, false},
                        {"no warmup, no clipping", false, false}};
    std::printf("%d Adam steps of the seed's model (fp32, cpu), Noam factor 0.5, warmup %lld when on:\n", steps,
                (long long)train::default_warmup(steps));
    std::printf("%-24s %10s %14s %14s %16s %14s\n", "run", "final loss", "largest norm", "median norm", "steps clipped",
                "held-out exact");
    for (const Run& r : runs) {
      train::TrainerOptions o;
      o.seed = seed;
      o.steps = steps;
      o.schedule.warmup = train::default_warmup(steps);
      o.schedule.factor = 0.5;  // this chapter's runs (the trainer's default is 0.25)
      if (!r.warmup) {  // Noam's peak rate from the first step
        const double peak = optim::lr_at(o.schedule, o.schedule.warmup);
        o.schedule.kind = optim::ScheduleKind::constant;
        o.schedule.peak = peak;
      }
      o.clip = r.clip;
      o.log_every = 1;  // every step's norm and loss (the table and the CSV)
      train::Trainer<float> t(o);
      std::vector<double> norms;
      double loss = 0;
      int clipped = 0;
      for (int k = 1; k <= steps; ++k) {
        const train::StepResult s = t.step();
        norms.push_back(s.grad_norm);
        loss = k == 1 ? s.loss : 0.9 * loss + 0.1 * s.loss;
        clipped += r.clip && s.grad_norm > o.max_norm;
        if (out) out->row(r.name, s.step, s.loss, s.lr, s.grad_norm, r.clip ? o.max_norm : 0.0f);
      }
      std::vector<double> sorted = norms;
      std::sort(sorted.begin(), sorted.end());
      const double exact = t.evaluate(t.held_out_numbers(), 0, 0).exact_match();
      std::printf("%-24s %10.4f %14.3f %14.3f %16d %13.1f%%\n", r.name, loss, sorted.back(), sorted[sorted.size() / 2],
                  clipped, 100 * exact);
    }
    std::printf("(final loss: an exponential average of the step losses with weight 0.1)\n");
  });
}
