// Chapter 08: what happens when one rank dies in the middle of training. Every rank
// all-reduces in a loop; rank --victim dies at iteration --at (an exit without MPI_Finalize,
// or SIGKILL). The others are blocked in an all-reduce that can never complete: mpirun sees
// the death and stops them, and the job exits non-zero. ctest runs it and demands a non-zero
// exit within 30 s (a hang fails the test by its timeout).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/cli.hpp"
#include "kernels/dist/communicator.hpp"

int main(int argc, char** argv) {
  using namespace halfway;
  CLI::App app{"Chapter 08: one rank dies mid-run; the others must stop, not hang"};
  int victim = 1, at = 20, iterations = 1'000'000;
  std::string how = "exit";
  app.add_option("--victim", victim, "the rank that dies (default 1)")->check(CLI::NonNegativeNumber);
  app.add_option("--at", at, "the iteration at which it dies (default 20)")->check(CLI::NonNegativeNumber);
  app.add_option("--how", how, "exit (std::_Exit without MPI_Finalize) or kill (SIGKILL)")
      ->check(CLI::IsMember({"exit", "kill"}));
  return run_program(argc, argv, app, [&] {
    auto comm = dist::make_communicator(Backend::cpu);
    std::vector<float> grads(1 << 16, 1.0f);
    for (int i = 0; i < iterations; ++i) {
      if (comm->rank() == victim && i == at) {
        std::printf("rank %d: dying at iteration %d (%s)\n", victim, at, how.c_str());
        std::fflush(stdout);
        if (how == "kill") std::raise(SIGKILL);
        std::_Exit(3);
      }
      comm->all_reduce(grads.data(), std::int64_t(grads.size()), dist::ReduceOp::max);
    }
    std::printf("rank %d: finished %d iterations: the victim never died\n", comm->rank(), iterations);
  });
}
