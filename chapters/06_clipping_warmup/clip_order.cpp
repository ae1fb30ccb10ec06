// ch06_clip_order: what the optimizer receives when clipping runs after the unscale (the
// course's order) and before it (the ablation: the bug of clipping scaled gradients), for
// loss scales 1, 2^8 and 2^16 and a max_norm below and above the true norm. The gradients
// are random (fixed seed) with a true norm near 5; the scale is a power of two, so the
// scaled gradients are exact and the only difference between the rows is the order.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/device_memory.hpp"
#include "common/log.hpp"
#include "common/rng.hpp"
#include "kernels/optim/train_step.hpp"

using namespace halfway;
using namespace halfway::optim;

int main(int argc, char** argv) {
  CLI::App app{"Chapter 06: clipping after the unscale against clipping before it"};
  std::string backend = "cpu", csv;
  std::int64_t n = 100000;
  app.add_option("--backend", backend, "cpu, emu or cuda")->check(CLI::IsMember({"cpu", "emu", "cuda"}));
  app.add_option("--gradients", n, "gradient count (default 100000)")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 28));
  add_log_option(app, csv, "the table as CSV", "--csv");
  return run_program(argc, argv, app, [&] {
    const Backend b = select_backend(backend);
    std::vector<float> truth(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) truth[std::size_t(i)] = rng::normal(6, std::uint64_t(i)) * 0.016f;
    struct Row {
      float scale, max_norm;
      bool ablation;
      float reported;
      double received;
    };
    std::vector<Row> rows;
    Buf<float> buf;
    float* g = buf.get(truth.size(), b);
    const GradBuffer grads{b, DType::f32, g, n};
    NormWorkspace ws;
    for (float scale : {1.0f, 256.0f, 65536.0f})
      for (float max_norm : {1.0f, 100.0f})
        for (bool ablation : {false, true}) {
          std::vector<float> scaled(truth);
          for (float& v : scaled) v *= scale;  // exact: a power of two
          copy_in(b, g, scaled.data(), scaled.size() * sizeof(float));
          amp::ScalerOptions so;
          so.mode = amp::ScaleMode::fixed;
          so.init_scale = scale;
          amp::GradScaler scaler(so);
          Schedule schedule(ScheduleOptions{});
          TrainStepOptions o;
          o.clip_options.max_norm = max_norm;
          o.clip_before_unscale = ablation;
          double received = -1.0;
          const StepReport r = train_step(
              scaler, grads, o, ws, [&](double) { received = global_norm(grads, ws); }, schedule);
          rows.push_back({scale, max_norm, ablation, r.grad_norm, received});
        }
    NormWorkspace host_ws;
    const float true_norm = global_norm(GradBuffer{Backend::cpu, DType::f32, truth.data(), n}, host_ws);
    std::printf("true gradient norm %.6g (%lld gradients, %s)\n", true_norm, (long long)n, backend.c_str());
    std::printf("%8s %9s %-22s %14s %16s %14s\n", "scale", "max_norm", "order", "norm seen", "norm received", "should be");
    for (const Row& r : rows)
      std::printf("%8g %9g %-22s %14.6g %16.6g %14.6g\n", r.scale, r.max_norm,
                  r.ablation ? "clip, then unscale" : "unscale, then clip", r.reported, r.received,
                  std::min(double(true_norm), double(r.max_norm)));
    std::printf("(norm seen: what the clip compared with max_norm; norm received: the gradients' norm when the optimizer ran)\n");
    if (!csv.empty()) {
      CsvWriter log(csv, {"scale", "max_norm", "clip_before_unscale", "norm_seen", "norm_received", "true_norm"});
      for (const Row& r : rows) log.row(r.scale, r.max_norm, r.ablation ? 1 : 0, r.reported, r.received, true_norm);
    }
  });
}
