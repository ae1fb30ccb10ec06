// ch00_race_demo: reverse an array through shared memory without the barrier, then with
// it. Run it from the tsan preset's build and ThreadSanitizer names both source lines of
// the race, whether or not this run's result came out right.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "kernels/intro/intro_ops.hpp"
#include "chapters/00_gpu_model/program_backends.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  using namespace halfway;
  CLI::App app{"Chapter 00: a missing __syncthreads (the race checker's demo)"};
  int n = 256;
  std::string which = "both", backends = "all";
  app.add_option("-n,--size", n, "threads in the block (elements)")->check(CLI::Range(1, 1024));
  app.add_option("--kernel", which, "racy, fixed or both")->check(CLI::IsMember({"racy", "fixed", "both"}));
  app.add_option("--backend", backends, "emu, cuda, or all (emu, plus cuda where a GPU is usable)")
      ->check(CLI::IsMember({"all", "emu", "cuda"}));
  return run_program(argc, argv, app, [&] {
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = float(i);
    for (Backend backend : intro::kernel_backends(backends)) {
      for (bool with_barrier : {false, true}) {
        if ((with_barrier && which == "racy") || (!with_barrier && which == "fixed")) continue;
        const auto y = intro::reverse_in_shared(backend, x, with_barrier);
        int wrong = 0;
        for (int t = 0; t < n; ++t) wrong += y[t] != x[n - 1 - t];
        std::printf("  %-4s %-15s %4d of %d elements wrong\n", std::string(to_string(backend)).c_str(),
                    with_barrier ? "with barrier" : "without barrier", wrong, n);
        if (with_barrier && wrong)
          throw Error("reverse with a barrier: expected every element right, found " + std::to_string(wrong) + " wrong");
      }
    }
    std::printf("Without the barrier the result depends on the order threads run in (try\n"
                "HALFWAY_EMU_ORDER=reverse or random); the tsan preset reports the race every time.\n");
  });
}
