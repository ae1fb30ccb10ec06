// ch08_memory_per_rank: under mpirun -np N, every rank measures what it holds for training
// (chapter 07's memory report, kernels/train/memory_report.hpp) after two steps of the
// default fp16 run, with and without ZeRO-1 (--shard-optimizer), and prints one CSV row:
//
//   mpirun -np N build/cpu-only/bin/ch08_memory_per_rank [--size seed] [--batch 32]
//
// plots/ch08_memory.py reads the rows of N = 1, 2, 3 and adds the computed N = 8 and 64.
#include <cstdio>
#include <iostream>
#include <string>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "kernels/dist/communicator.hpp"
#include "kernels/dist/gradient_sync.hpp"
#include "kernels/train/memory_report.hpp"

using namespace halfway;

int main(int argc, char** argv) {
  CLI::App app{"ch08_memory_per_rank: bytes each rank holds, with and without ZeRO-1 (run under mpirun)"};
  std::string size = "seed";
  int batch = 32;
  app.add_option("--size", size, "model preset")->capture_default_str();
  app.add_option("--batch", batch, "global batch")->capture_default_str();
  return run_program(argc, argv, app, [&] {
    auto comm = dist::make_communicator(Backend::cpu);
    if (comm->rank() == 0)
      std::cout << "ranks,rank,sharded,parameters,masters,working,grads,moments,parameters_gradients_optimizer\n";
    for (bool sharded : {false, true}) {
      train::TrainerOptions o;
      o.model = train::model_preset(size);
      o.batch = batch;
      o.rank = comm->rank(), o.ranks = comm->size();
      if (sharded) o.shard_optimizer = comm.get();
      else o.after_backward = [c = comm.get()](const amp::GradBuffer& g) { dist::sum_gradients(*c, g, dist::Accumulate::fp32); };
      const train::MemoryBreakdown m = train::measure_memory("fp16", o, 2);
      const long long state = m.of(MemoryUse::parameters) + m.of(MemoryUse::gradients) + m.of(MemoryUse::optimizer_state);
      for (int r = 0; r < comm->size(); ++r) {  // in rank order
        if (r == comm->rank())
          std::printf("%d,%d,%d,%lld,%zu,%zu,%zu,%zu,%lld\n", m.ranks, m.rank, sharded ? 1 : 0, (long long)m.parameters,
                      m.store_masters, m.store_working, m.store_grads, m.store_moments, state);
        std::fflush(stdout);
        comm->barrier();
      }
    }
  });
}
