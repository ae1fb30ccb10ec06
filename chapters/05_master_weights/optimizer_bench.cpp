// ch05_optimizer_bench: the fused Adam step's share of a training step. On the seed's model
// and a batch of the task (32 numbers), times one forward + loss + backward, and one fused
// Adam step over the whole parameter store, in fp32 and in mixed fp16 and bf16 (fp32
// masters); prints both medians and the optimizer's share of their sum (the rest of a step:
// unscale, clip, are one pass each, measured in chapters 04 and 06).
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/number_words.hpp"
#include "common/timer.hpp"
#include "kernels/layers/transformer.hpp"
#include "kernels/optim/optimizer.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

template <class S>
void measure(int repeats) {
  Config cfg;
  Seq2Seq<S> model(cfg);
  model.init(1);
  auto& store = model.store;
  store.ensure_moments();
  const task::Split split = task::split_numbers(1);
  const Batch b = task::make_batch(std::vector<int>(split.train.begin(), split.train.begin() + 32));
  std::uint64_t step = 0;
  const Timing fb = time_repeated(
      [&] {
        model.zero_grad();
        model.forward(b, RunState{true, 1, ++step});
        model.loss(task::kPad);
        model.backward();
      },
      1, repeats);
  const optim::ParamBuffers buf{Backend::cpu, store.size(), store.masters(), store.working(), dtype_of<S>(),
                                store.grads(), DType::f32, store.moment_m(), store.moment_v()};
  const optim::AdamOptions o;
  std::int64_t t = 0;
  const Timing opt = time_repeated(
      [&] { optim::adam_step(buf, optim::adam_constants(o, 1e-4, ++t), optim::MasterMode::master, 1, t); }, 1,
      repeats);
  std::printf("%-6s %12.2f %12.2f %10.1f%%\n", precision_name<S>(), fb.median * 1e3, opt.median * 1e3,
              100.0 * opt.median / (opt.median + fb.median));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 05: the fused Adam step's share of a training step (seed's model, cpu)"};
  int repeats = 10;
  app.add_option("--repeats", repeats, "timed runs (median reported)")->check(CLI::Range(1, 1000));
  return run_program(argc, argv, app, [&] {
    std::printf("seed's model (2.51M parameters), batch 32, cpu; medians of %d runs\n", repeats);
    std::printf("%-6s %12s %12s %11s\n", "mode", "fwd+bwd ms", "Adam ms", "Adam share");
    measure<float>(repeats);
    measure<half>(repeats);
    measure<bfloat16>(repeats);
  });
}
