// ch05_lost_updates: what happens to updates smaller than half an ulp of a 16-bit weight.
//
// (a) One weight w = 1 receives the same update u 10,000 times, for u from 2^-16 to 2^-6
//     (around half an ulp of 1: 2^-11 in fp16, 2^-8 in bf16). The weight is stored in
//     fp16 or bf16 and each update is rounded to nearest (as without a master copy) or
//     stochastically; with an fp32 master it is exact. Printed and written (--csv): the
//     share of the expected change 10,000 u that survived.
// (b) The seed's model trained for a few hundred steps with Adam (Noam-like small rates):
//     after each step, the share of nonzero updates that left the persisting weight
//     unchanged (the fp32 master with masters; the 16-bit weight without), per parameter
//     kind, for master / none / sr, in fp16 and bf16 (--model-steps; 0 skips it). With sr a
//     16-bit weight that did not move this step still moves by the update on average.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/number_words.hpp"
#include "common/rng.hpp"
#include "kernels/layers/transformer.hpp"
#include "kernels/optim/optimizer.hpp"
#include "kernels/optim/update_element.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

// (a): the fraction of `updates` u that a 16-bit weight starting at 1 keeps (stochastic
// rounding: the mean over 32 weights with their own random words, so that the sampling
// noise of one weight does not hide the trend).
template <class S>
double survived(double u, int updates, bool stochastic, std::uint64_t seed) {
  const int weights = stochastic ? 32 : 1;
  double total = 0;
  for (int j = 0; j < weights; ++j) {
    const std::uint64_t s = rng::derive_seed(seed, std::uint64_t(j));
    S w = st<S>(1.0f);
    for (int k = 0; k < updates; ++k) {
      const float next = ld(w) + float(u);
      w = stochastic ? optim::stochastic_round<S>(next, rng::bits(s, std::uint64_t(k))) : st<S>(next);
    }
    total += double(ld(w)) - 1.0;
  }
  return total / weights / (double(updates) * u);
}

template <class S>
void model_study(int steps, std::uint64_t seed, double lr, CsvWriter* out) {
  const char* prec = std::is_same_v<S, half> ? "fp16" : "bf16";
  for (optim::MasterMode mode : {optim::MasterMode::master, optim::MasterMode::none, optim::MasterMode::stochastic}) {
    Config cfg;
    Seq2Seq<S> model(cfg);
    model.init(seed);
    auto& store = model.store;
    store.ensure_moments();
    const task::Split split = task::split_numbers(seed);
    const optim::ParamBuffers buf{Backend::cpu, store.size(), store.masters(), store.working(),
                                  std::is_same_v<S, half> ? DType::f16 : DType::bf16, store.grads(), DType::f32,
                                  store.moment_m(), store.moment_v()};
    optim::AdamOptions o;
    o.beta2 = 0.98, o.eps = 1e-9;
    std::map<std::string, std::pair<double, double>> unchanged;  // kind -> (unchanged, nonzero updates)
    double loss = 0;
    for (int s = 1; s <= steps; ++s) {
      std::vector<int> numbers;
      for (int i = 0; i < 32; ++i) numbers.push_back(split.train[std::size_t((s * 32 + i) % int(split.train.size()))]);
      const Batch b = task::make_batch(numbers);
      model.zero_grad();
      model.forward(b, RunState{true, seed, std::uint64_t(s)});
      loss = model.loss(task::kPad);
      model.backward();
      // the weight that persists: the fp32 master in mode master, the 16-bit weight otherwise
      const bool master = mode == optim::MasterMode::master;
      std::vector<float> before_master(store.masters(), store.masters() + store.size());
      std::vector<S> before(store.working(), store.working() + store.size());
      std::vector<float> grads(store.grads(), store.grads() + store.size());
      optim::adam_step(buf, optim::adam_constants(o, lr, s), mode, seed, s);
      for (auto* p : model.params()) {
        const std::string& n = p->name;
        const std::string kind = n.find("norm") != std::string::npos ? "LayerNorm"
                                 : n.ends_with("bias")                 ? "biases"
                                 : n.find("attn") != std::string::npos ? "attention weights"
                                 : n.find("linear") != std::string::npos ? "feed-forward weights"
                                                                         : "embedding and output";
        for (std::int64_t i = p->offset; i < p->offset + p->numel(); ++i) {
          if (grads[std::size_t(i)] == 0.0f) continue;
          unchanged[kind].second += 1;
          unchanged[kind].first += master ? before_master[std::size_t(i)] == store.masters()[i]
                                          : std::memcmp(&before[std::size_t(i)], store.working() + i, sizeof(S)) == 0;
        }
      }
    }
    std::printf("%s, weights %-6s (loss after %d steps %.3f):", prec, optim::to_string(mode).c_str(), steps, loss);
    for (auto& [kind, c] : unchanged) {
      std::printf("  %s %.1f%%", kind.c_str(), 100.0 * c.first / c.second);
      if (out) out->row("model", prec, optim::to_string(mode), kind, steps, c.first / c.second);
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 05: updates smaller than half an ulp, with and without master weights"};
  int updates = 10000, model_steps = 200;
  double lr = 5e-4;
  std::uint64_t seed = 1;
  std::string csv;
  app.add_option("--updates", updates, "updates of the single weight in (a)")->check(CLI::Range(1, 10000000));
  app.add_option("--model-steps", model_steps, "Adam steps of the model study (b); 0 skips it")->check(CLI::Range(0, 100000));
  app.add_option("--lr", lr, "Adam's learning rate in (b)")->check(halfway::positive_number());
  app.add_option("--seed", seed, "seed");
  add_log_option(app, csv, "both studies' numbers", "--csv");
  return run_program(argc, argv, app, [&] {
    std::unique_ptr<CsvWriter> out;
    if (!csv.empty())
      out = std::make_unique<CsvWriter>(csv, std::vector<std::string>{"study", "format", "rounding", "what", "x", "value"});
    std::printf("(a) w = 1 updated %d times by u: the share of the expected change that survives\n", updates);
    std::printf("%10s %12s | %8s %8s | %8s %8s | %s\n", "u", "u / ulp(1)", "fp16 RN", "fp16 SR", "bf16 RN", "bf16 SR",
                "fp32 master");
    for (int e2 = -32; e2 <= -16; ++e2) {  // u = 2^(e2/2): two points per binade, up to 2^-8
      const double u = std::exp2(double(e2) / 2.0);
      const double h_rn = survived<half>(u, updates, false, seed), h_sr = survived<half>(u, updates, true, seed);
      const double b_rn = survived<bfloat16>(u, updates, false, seed), b_sr = survived<bfloat16>(u, updates, true, seed);
      std::printf("%10.3g %12.3g | %7.1f%% %7.1f%% | %7.1f%% %7.1f%% | 100%%\n", u, u / 0x1p-10, 100 * h_rn, 100 * h_sr,
                  100 * b_rn, 100 * b_sr);
      if (out) {
        out->row("single", "fp16", "nearest", "survived", u, h_rn);
        out->row("single", "fp16", "stochastic", "survived", u, h_sr);
        out->row("single", "bf16", "nearest", "survived", u, b_rn);
        out->row("single", "bf16", "stochastic", "survived", u, b_sr);
      }
    }
    std::printf("(u / ulp(1) is against fp16's ulp at 1, 2^-10; bf16's is 2^-7. Rounding to nearest keeps nothing\n"
                " below half an ulp; above it, each update rounds to whole ulps until the weight reaches a binade\n"
                " where u is half an ulp or less (2 for u = 0.71 ulp, 4 for 2 ulps, 8 for 4; a tie keeps the even\n"
                " weight), and from there every update is lost: hence the partial shares.)\n");
    if (model_steps > 0) {
      std::printf("\n(b) the seed's model, Adam lr %g, %d steps: share of nonzero updates that left the persisting weight unchanged\n",
                  lr, model_steps);
      model_study<half>(model_steps, seed, lr, out.get());
      model_study<bfloat16>(model_steps, seed, lr, out.get());
    }
  });
}
