// ch06_norm_bench: the course's global norm (two fixed-order launches, squares in double)
// against the library way, thrust::transform_reduce with the same math, on the same fp32
// gradients. Both values must agree within the bound of grad_norm.hpp (each is within
// 2^-24 + (n + 1) 2^-53 of the true norm, so they differ by at most twice that); the table
// prints both times and their ratio, measured in the same run. cpu: our host path (the
// kernels' order replayed on the host) against Thrust's CPP system; emu: the kernels under
// the emulator (slow: for checking, not for speed); cuda: our kernels against Thrust's
// CUDA system (when a GPU is usable).
#include <cmath>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/rng.hpp"
#include "common/timer.hpp"
#include "kernels/optim/grad_norm.hpp"
#include "kernels/optim/norm_thrust.hpp"

using namespace halfway;
using namespace halfway::optim;

namespace {

struct Row {
  std::string backend;
  std::int64_t n;
  float ours, thrust;
  double ours_ms, thrust_ms;
};

Row measure(Backend b, std::int64_t n, int repeats) {
  std::vector<float> host(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) host[std::size_t(i)] = rng::normal(21, std::uint64_t(i)) * 1e-3f;
  Buf<float> g;
  float* p = g.get(host.size(), b);
  copy_in(b, p, host.data(), host.size() * sizeof(float));
  const GradBuffer grads{b, DType::f32, p, n};
  NormWorkspace ws;
  Row r{std::string(to_string(b)), n, 0.0f, 0.0f, 0.0, 0.0};
  const Timing ours = time_repeated([&] { r.ours = global_norm(grads, ws); }, 1, repeats, b);
  double thrust_ms = 0.0;
  if (b == Backend::emu) {  // Thrust has no emulator system: its CPP system on the same memory
    r.thrust = norm_thrust_host(p, n);
  } else {
    const Timing lib = time_repeated(
        [&] { r.thrust = b == Backend::cuda ? norm_thrust_gpu(p, n) : norm_thrust_host(p, n); }, 1, repeats, b);
    thrust_ms = lib.median * 1e3;
  }
  r.ours_ms = ours.median * 1e3;
  r.thrust_ms = thrust_ms;
  // Each within 2^-24 + (n + 1) 2^-53 of the true norm (grad_norm.hpp): twice that apart at most.
  const double bound = 2.0 * double(r.thrust) * (0x1p-24 + double(n + 1) * 0x1p-53) * 1.01;
  HALFWAY_EXPECT(std::fabs(double(r.ours) - double(r.thrust)) <= bound,
                 "the same norm from both within " + std::to_string(bound),
                 "ours " + std::to_string(r.ours) + ", thrust " + std::to_string(r.thrust));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 06: the global gradient norm against thrust::transform_reduce"};
  GradientBenchmarkOptions o;
  add_gradient_benchmark_options(app, o, {"cpu", "emu", "cuda"});
  return run_program(argc, argv, app, [&] {
    std::vector<Row> rows;
    for (Backend b : benchmark_backends(o.backend))
      for (std::int64_t n : o.sizes) rows.push_back(measure(b, n, o.repeats));
    std::printf("%-7s %12s %16s %16s %10s %10s %9s\n", "backend", "gradients", "norm (ours)", "norm (thrust)",
                "ours ms", "thrust ms", "speedup");
    for (const Row& r : rows) {
      if (r.thrust_ms > 0)
        std::printf("%-7s %12lld %16.9g %16.9g %10.3f %10.3f %8.2fx\n", r.backend.c_str(), (long long)r.n, r.ours,
                    r.thrust, r.ours_ms, r.thrust_ms, r.thrust_ms / r.ours_ms);
      else
        std::printf("%-7s %12lld %16.9g %16.9g %10.3f %10s %9s\n", r.backend.c_str(), (long long)r.n, r.ours,
                    r.thrust, r.ours_ms, "-", "-");
    }
    std::printf("(values agree within the derived bound in every row; speedup = thrust / ours, medians of %d runs;\n"
                " emu: Thrust's CPP system has no emulated timing to compare with, values only)\n",
                o.repeats);
    if (!o.csv.empty()) {
      CsvWriter log(o.csv, {"backend", "gradients", "norm_ours", "norm_thrust", "ours_ms", "thrust_ms"});
      for (const Row& r : rows) log.row(r.backend, r.n, r.ours, r.thrust, r.ours_ms, r.thrust_ms);
    }
  });
}
