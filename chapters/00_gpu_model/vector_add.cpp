// ch00_vector_add: c = a + b with a grid-stride kernel (exercise 00.1), on the emulator
// and on a GPU where one is usable, checked element by element against the host.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "kernels/intro/intro_ops.hpp"
#include "chapters/00_gpu_model/program_backends.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/timer.hpp"

int main(int argc, char** argv) {
  using namespace halfway;
  CLI::App app{"Chapter 00: vector add with a grid-stride loop, checked against the host"};
  int n = 100000, threads = 256, blocks = 0;
  std::string backends = "all";
  app.add_option("-n,--size", n, "number of elements")->check(CLI::Range(1, 1 << 26));
  app.add_option("--threads", threads, "threads per block")->check(CLI::Range(1, 1024));
  app.add_option("--blocks", blocks, "blocks (0: one thread per element, at most 1024 blocks)")->check(CLI::Range(0, 65535));
  app.add_option("--backend", backends, "emu, cuda, or all (emu, plus cuda where a GPU is usable)")
      ->check(CLI::IsMember({"all", "emu", "cuda"}));
  return run_program(argc, argv, app, [&] {
    std::vector<float> a(n), b(n);
    for (int i = 0; i < n; ++i) a[i] = 0.5f * i, b[i] = 1.0f / (1 + i);
    const auto reference = intro::vector_add(Backend::cpu, a, b);
    const intro::Launch launch{blocks, threads};
    std::printf("vector add of %d floats, %d blocks x %d threads (grid-stride)\n", n,
                blocks ? blocks : intro::blocks_for(n, threads), threads);
    for (Backend backend : intro::kernel_backends(backends)) {
      WallTimer timer;
      const auto c = intro::vector_add(backend, a, b, launch);
      const double seconds = timer.seconds();
      int wrong = 0;
      for (int i = 0; i < n; ++i) wrong += c[i] != reference[i];
      std::printf("  %-4s  %8.2f ms  %d of %d elements differ from the host\n",
                  std::string(to_string(backend)).c_str(), seconds * 1e3, wrong, n);
      if (wrong) throw Error("vector add on " + std::string(to_string(backend)) + ": expected every element equal to the host's, found " + std::to_string(wrong) + " different");
    }
  });
}
