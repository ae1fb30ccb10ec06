// ch04_unscale_bench: the fused unscale-and-check (one pass, one launch) against the
// library way (two Thrust passes: any_of, then transform), on the same fp32 gradients.
// Both must give the same bits and the same flag; the table prints both times and the
// ratio, measured in the same run. cpu: our host loop against Thrust's CPP system; cuda:
// our kernel against Thrust's CUDA system (when a GPU is usable). Thrust's CPP system is
// serial, while our host loop runs OpenMP threads from 4M gradients on: on the cpu the fused
// loop is also timed on one thread, and the ratio compares equal thread counts.
#include <omp.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/rng.hpp"
#include "common/timer.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/amp/unscale.hpp"
#include "kernels/amp/unscale_thrust.hpp"

using namespace halfway;
using namespace halfway::amp;

namespace {

std::vector<float> gradients(std::int64_t n, bool with_inf) {
  std::vector<float> g(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) g[std::size_t(i)] = float(rng::normal(11, std::uint64_t(i))) * 1024.0f;
  if (with_inf) g[std::size_t(n / 2)] = INFINITY;
  return g;
}

struct Row {
  std::string backend;
  std::int64_t n;
  bool with_inf;
  double fused_ms, fused_one_thread_ms, thrust_ms;
};

Row measure(Backend b, std::int64_t n, bool with_inf, int repeats) {
  const std::vector<float> host = gradients(n, with_inf);
  const float inv = 1.0f / 1024.0f;
  Buf<float> a, c;
  Buf<unsigned> flag;
  float* pa = a.get(std::size_t(n), b);
  float* pc = c.get(std::size_t(n), b);
  unsigned* pf = b == Backend::cpu ? nullptr : flag.get(1, b);
  const GradBuffer grads{b, DType::f32, pa, n};
  bool found_fused = false, found_thrust = false;
  // Each timed run unscales the buffer again (values shrink by 2^-10 each time: still the
  // same work; the correctness check below runs on fresh copies).
  copy_in(b, pa, host.data(), host.size() * sizeof(float));
  copy_in(b, pc, host.data(), host.size() * sizeof(float));
  const Timing fused = time_repeated([&] { found_fused = unscale_and_check(grads, inv, pf); }, 1, repeats, b);
  double fused_one_thread_ms = fused.median * 1e3;  // a kernel: the same launch
  if (b == Backend::cpu) {
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    copy_in(b, pa, host.data(), host.size() * sizeof(float));  // fresh: 20 unscales would reach subnormals
    fused_one_thread_ms = time_repeated([&] { found_fused = unscale_and_check(grads, inv, pf); }, 1, repeats, b).median * 1e3;
    omp_set_num_threads(threads);
  }
  const Timing lib = time_repeated(
      [&] { found_thrust = b == Backend::cuda ? unscale_thrust_gpu(pc, n, inv) : unscale_thrust_host(pc, n, inv); }, 1,
      repeats, b);
  // Same bits, same flag, from the same input.
  copy_in(b, pa, host.data(), host.size() * sizeof(float));
  copy_in(b, pc, host.data(), host.size() * sizeof(float));
  found_fused = unscale_and_check(grads, inv, pf);
  found_thrust = b == Backend::cuda ? unscale_thrust_gpu(pc, n, inv) : unscale_thrust_host(pc, n, inv);
  const auto ra = a.host(std::size_t(n)), rc = c.host(std::size_t(n));
  HALFWAY_EXPECT(found_fused == found_thrust && found_fused == with_inf, "the same found_inf from both",
                 std::string("fused ") + (found_fused ? "true" : "false") + ", thrust " + (found_thrust ? "true" : "false"));
  HALFWAY_EXPECT(std::memcmp(ra.data(), rc.data(), ra.size() * sizeof(float)) == 0,
                 "the same unscaled gradients from both", "a difference");
  return {std::string(to_string(b)), n, with_inf, fused.median * 1e3, fused_one_thread_ms, lib.median * 1e3};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 04: fused unscale-and-check against two Thrust passes"};
  GradientBenchmarkOptions o;
  add_gradient_benchmark_options(app, o, {"cpu", "cuda"});
  return run_program(argc, argv, app, [&] {
    std::vector<Row> rows;
    for (Backend b : benchmark_backends(o.backend))
      for (std::int64_t n : o.sizes)
        for (bool with_inf : {false, true}) rows.push_back(measure(b, n, with_inf, o.repeats));
    std::printf("%-7s %12s %8s %12s %14s %12s %10s\n", "backend", "gradients", "inf", "fused ms", "fused 1 thr ms",
                "thrust ms", "speedup");
    for (const Row& r : rows)
      std::printf("%-7s %12lld %8s %12.3f %14.3f %12.3f %9.2fx\n", r.backend.c_str(), (long long)r.n,
                  r.with_inf ? "yes" : "no", r.fused_ms, r.fused_one_thread_ms, r.thrust_ms,
                  r.thrust_ms / r.fused_one_thread_ms);
    std::printf("(same bits and the same found_inf from both in every row; medians of %d runs. fused ms: OpenMP's\n"
                " threads from 4M gradients on (%d here); speedup = thrust / fused on 1 thread, as Thrust's CPP system runs)\n",
                o.repeats, omp_get_max_threads());
    if (!o.csv.empty()) {
      CsvWriter log(o.csv, {"backend", "gradients", "inf", "fused_ms", "fused_one_thread_ms", "thrust_ms"});
      for (const Row& r : rows) log.row(r.backend, r.n, r.with_inf ? 1 : 0, r.fused_ms, r.fused_one_thread_ms, r.thrust_ms);
    }
  });
}
