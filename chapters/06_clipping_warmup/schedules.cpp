// ch06_schedules: the learning-rate schedules side by side, as a table and a CSV for
// plots/ch06_schedules.py. Noam with warmup 400 and 4000 (the seed's setting), linear
// warmup then cosine decay to a floor, and linear warmup then inverse square root (both
// with Noam-400's peak, so that the shapes compare). The summary shows what a run of
// --run-steps (the seed's ~320) sees of each: its last rate and its mean rate, as a share
// of the schedule's peak.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/log.hpp"
#include "kernels/optim/schedule.hpp"

using namespace halfway;
using namespace halfway::optim;

namespace {

struct Named {
  std::string name;
  ScheduleOptions options;
};

std::vector<Named> schedules(std::int64_t d_model, std::int64_t steps) {
  ScheduleOptions noam;
  noam.kind = ScheduleKind::noam, noam.d_model = d_model, noam.factor = 1.0;
  ScheduleOptions noam400 = noam, noam4000 = noam;
  noam400.warmup = 400, noam4000.warmup = 4000;
  const double peak = lr_at(noam400, 400);
  ScheduleOptions cosine;
  cosine.kind = ScheduleKind::warmup_cosine, cosine.peak = peak, cosine.warmup = 400, cosine.total = steps,
  cosine.floor = 0.1 * peak;
  ScheduleOptions inv_sqrt;
  inv_sqrt.kind = ScheduleKind::warmup_inv_sqrt, inv_sqrt.peak = peak, inv_sqrt.warmup = 400;
  return {{"noam_w400", noam400}, {"noam_w4000", noam4000}, {"cosine_w400", cosine}, {"inv_sqrt_w400", inv_sqrt}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 06: learning-rate schedules (Noam warmup 400 and 4000, cosine, inverse sqrt)"};
  std::int64_t steps = 4000, run_steps = 320, d_model = 128;
  std::string csv;
  app.add_option("--steps", steps, "steps to tabulate (default 4000)")->check(CLI::Range(std::int64_t(401), std::int64_t(1) << 30));
  app.add_option("--run-steps", run_steps, "the short run to summarise (default 320, the seed's)")
      ->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 30));
  app.add_option("--d-model", d_model, "Noam's d_model (default 128, the seed's)")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 20));
  add_log_option(app, csv, "every schedule's rate at every step (schedule,warmup,step,lr)", "--csv");
  return run_program(argc, argv, app, [&] {
    const auto all = schedules(d_model, steps);
    std::printf("%-14s %7s %11s %11s %13s %14s\n", "schedule", "warmup", "peak lr", "peak step",
                ("lr@" + std::to_string(run_steps) + "/peak").c_str(), ("mean(1.." + std::to_string(run_steps) + ")/peak").c_str());
    for (const Named& s : all) {
      double peak = 0.0, sum = 0.0;
      std::int64_t at = 1;
      for (std::int64_t k = 1; k <= steps; ++k) {
        const double lr = lr_at(s.options, k);
        if (lr > peak) peak = lr, at = k;
      }
      for (std::int64_t k = 1; k <= run_steps; ++k) sum += lr_at(s.options, k);
      std::printf("%-14s %7lld %11.4g %11lld %13.3f %14.3f\n", s.name.c_str(), (long long)s.options.warmup, peak,
                  (long long)at, lr_at(s.options, run_steps) / peak, sum / double(run_steps) / peak);
    }
    std::printf("(d_model %lld, factor 1; cosine and inv_sqrt share noam_w400's peak; cosine decays to 10%% of it at step %lld)\n",
                (long long)d_model, (long long)steps);
    if (!csv.empty()) {
      CsvWriter log(csv, {"schedule", "warmup", "step", "lr"});
      for (const Named& s : all)
        for (std::int64_t k = 1; k <= steps; ++k) log.row(s.name, s.options.warmup, k, lr_at(s.options, k));
    }
  });
}
