// ch00_reduce: per-block sums with a shared-memory tree and with warp shuffles
// (exercise 00.2), on the emulator and a GPU where usable, checked against an fp64 sum
// with a rounding-error bound.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>

#include "kernels/intro/intro_ops.hpp"
#include "chapters/00_gpu_model/program_backends.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/rng.hpp"
#include "common/timer.hpp"

int main(int argc, char** argv) {
  using namespace halfway;
  CLI::App app{"Chapter 00: block reductions (shared-memory tree, warp shuffles), checked against fp64"};
  int n = 1 << 18, threads = 256, blocks = 64;
  std::string backends = "all";
  app.add_option("-n,--size", n, "number of elements")->check(CLI::Range(1, 1 << 26));
  app.add_option("--threads", threads, "threads per block (a power of two, >= 32)")->check(CLI::Range(32, 1024));
  app.add_option("--blocks", blocks, "blocks")->check(CLI::Range(1, 65535));
  app.add_option("--backend", backends, "emu, cuda, or all (emu, plus cuda where a GPU is usable)")
      ->check(CLI::IsMember({"all", "emu", "cuda"}));
  return run_program(argc, argv, app, [&] {
    if (threads & (threads - 1)) throw UsageError("--threads: expected a power of two, found " + std::to_string(threads));
    std::vector<float> x(n);
    double exact = 0, magnitude = 0;
    for (int i = 0; i < n; ++i) {
      x[i] = rng::uniform(2026, i) * 2.0f - 1.0f;
      exact += x[i], magnitude += std::fabs(x[i]);
    }
    // Each thread adds ceil(n / grid) values in order, the block adds log2(threads) levels,
    // and the host adds the block sums in double: at most k = ceil(n/grid) + log2(threads)
    // fp32 roundings along any path, so |sum - exact| <= k * 2^-24 * sum|x| (first order).
    const int grid = blocks * threads;
    const double k = std::ceil(double(n) / grid) + std::log2(double(threads));
    const double bound = k * std::ldexp(1.0, -24) * magnitude;
    std::printf("sum of %d uniform(-1, 1) floats, %d blocks x %d threads: exact %.9g, bound %.3g\n",
                n, blocks, threads, exact, bound);
    for (Backend backend : intro::kernel_backends(backends)) {
      for (auto kernel : {intro::SumKernel::tree, intro::SumKernel::shuffle}) {
        WallTimer timer;
        const auto sums = intro::block_sums(backend, kernel, x, {blocks, threads});
        const double seconds = timer.seconds();
        double total = 0;
        for (float s : sums) total += s;
        const double error = std::fabs(total - exact);
        const char* name = kernel == intro::SumKernel::tree ? "tree" : "shuffle";
        std::printf("  %-4s %-8s %9.2f ms  sum %.9g  error %.3g  %s\n", std::string(to_string(backend)).c_str(),
                    name, seconds * 1e3, total, error, error <= bound ? "within the bound" : "OUTSIDE THE BOUND");
        if (!(error <= bound)) throw Error(std::string(name) + " reduction: expected an error <= " + std::to_string(bound) + ", found " + std::to_string(error));
      }
    }
  });
}
