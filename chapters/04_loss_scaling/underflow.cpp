// ch04_underflow: where fp16 would lose the gradients of the seed's model on the seed's
// task. Trains the model in fp32 with plain SGD (the optimizer is chapter 05's; here the
// simplest update keeps the measurement about the gradients), and at initialisation and
// after the last step runs one forward/backward on a fixed batch, showing every activation
// gradient (each layer's input, the memory, the logits) and every parameter gradient to
// the range counter of kernels/amp/numerics.hpp: the share of values that would be
// exactly zero, lost (underflow to 0), subnormal, normal or overflowing when stored in
// fp16 or bf16 after multiplying by a loss scale of 1, 2^8, 2^16 or 2^24.
//
// Outputs: a table on the terminal, a CSV of every count (--csv), and a CSV histogram of
// log2|g| per tensor (--hist) for plots/ch04_underflow.py.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/number_words.hpp"
#include "common/rng.hpp"
#include "kernels/amp/numerics.hpp"
#include "kernels/layers/transformer.hpp"
#include "kernels/optim/optimizer.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

constexpr float kScales[] = {1.0f, 0x1p8f, 0x1p16f, 0x1p24f};
const char* const kScaleNames[] = {"1", "2^8", "2^16", "2^24"};

struct Tensor {
  std::string name;
  std::vector<float> values;
};

// Every activation gradient of one backward, and every parameter gradient, as host copies
// (a measurement, not a training step: copies are fine here).
std::vector<Tensor> snapshot(Seq2Seq<float>& model, const Batch& batch, std::uint64_t seed) {
  std::vector<Tensor> out;
  model.zero_grad();
  model.forward(batch, RunState{true, seed, 999999});
  model.loss(task::kPad);
  model.backward([&](const std::string& where, const float* g, std::int64_t n) {
    out.push_back({"act: " + where, std::vector<float>(g, g + n)});
  });
  std::vector<float> all;
  for (auto* p : model.params()) {
    auto g = model.store.grad_host(*p);
    all.insert(all.end(), g.begin(), g.end());
  }
  out.push_back({"param: all gradients", all});
  // the parameter gradients by kind: where in the model the small ones are
  std::map<std::string, std::vector<float>> kinds;
  for (auto* p : model.params()) {
    const std::string& n = p->name;
    const std::string kind = n.find("norm") != std::string::npos ? "param: LayerNorm"
                             : n.ends_with("bias")                 ? "param: biases"
                             : n.find("attn") != std::string::npos ? "param: attention weights"
                             : n.find("linear") != std::string::npos ? "param: feed-forward weights"
                                                                     : "param: embedding and output";
    auto g = model.store.grad_host(*p);
    kinds[kind].insert(kinds[kind].end(), g.begin(), g.end());
  }
  for (auto& [k, v] : kinds) out.push_back({k, std::move(v)});
  return out;
}

// The smallest power of two that keeps 99.9% of the nonzero values above fp16's smallest
// subnormal, and the largest that keeps the largest value below fp16's overflow.
std::pair<int, int> scale_range(const std::vector<float>& v) {
  std::vector<float> a;
  for (float x : v)
    if (x != 0 && std::isfinite(x)) a.push_back(std::fabs(x));
  if (a.empty()) return {0, 0};
  std::sort(a.begin(), a.end());
  const float q = a[std::size_t(double(a.size() - 1) * 0.001)];
  const int keep = int(std::ceil(-24.0 - std::log2(double(q))));           // q 2^keep >= 2^-24
  const int room = int(std::floor(std::log2(65504.0 / double(a.back()))));  // max 2^room <= 65504
  return {keep, room};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 04: where fp16 loses the gradients of the seed's model (fp32 training, plain SGD)"};
  int steps = 300, batch_size = 32;
  float lr = 0.1f;
  std::uint64_t seed = 1;
  std::string csv, hist;
  app.add_option("--steps", steps, "SGD steps between the two measurements")->check(CLI::Range(0, 100000));
  app.add_option("--batch", batch_size, "numbers per batch")->check(CLI::Range(1, 800));
  app.add_option("--lr", lr, "SGD learning rate")->check(halfway::positive_number());
  app.add_option("--seed", seed, "seed of the weights, the split, the data order and dropout");
  add_log_option(app, csv, "every count (phase, tensor, format, scale, class shares)", "--csv");
  add_log_option(app, hist, "the histogram of log2|g| per tensor", "--hist");
  return run_program(argc, argv, app, [&] {
    Config cfg;  // the seed's model: d_model 128, 4 heads, 2+2 layers, FF 2048, dropout 0.1
    Seq2Seq<float> model(cfg);
    model.init(seed);
    const task::Split split = task::split_numbers(seed);
    std::vector<int> fixed(split.train.begin(), split.train.begin() + std::min<std::size_t>(batch_size, split.train.size()));
    const Batch probe = task::make_batch(fixed);

    std::unique_ptr<CsvWriter> out, hout;
    if (!csv.empty())
      out = std::make_unique<CsvWriter>(csv, std::vector<std::string>{"phase", "tensor", "format", "scale", "values",
                                                                      "exact_zero", "underflow", "subnormal", "normal",
                                                                      "overflow", "nonfinite"});
    if (!hout && !hist.empty())
      hout = std::make_unique<CsvWriter>(hist, std::vector<std::string>{"phase", "tensor", "log2_lo", "count"});

    auto measure = [&](const std::string& phase, const std::string& loss) {
      const auto tensors = snapshot(model, probe, seed);
      std::printf("\n%s%s: share of values lost (rounded to 0) in fp16 at each loss scale,\n"
                  "overflowing at 2^16 and 2^24, lost in bf16 at scale 1, and the power-of-two scales that keep\n"
                  "99.9%% of the nonzero values / the largest value below 65504\n",
                  phase.c_str(), loss.c_str());
      std::printf("%-46s %9s %6s %7s %7s %7s %7s | %6s %6s | %7s | %s\n", "tensor", "values", "zero", "@1", "@2^8",
                  "@2^16", "@2^24", "ov2^16", "ov2^24", "bf16@1", "keep / room");
      for (const Tensor& t : tensors) {
        amp::RangeCounts f16[4], bf16;
        for (int k = 0; k < 4; ++k) {
          f16[k] = amp::count_ranges(Backend::cpu, DType::f32, t.values.data(), std::int64_t(t.values.size()), DType::f16,
                                     kScales[k], nullptr);
          if (out)
            out->row(phase, t.name, "fp16", kScaleNames[k], f16[k].total(), f16[k].n[0], f16[k].n[1], f16[k].n[2],
                     f16[k].n[3], f16[k].n[4], f16[k].n[5]);
          const amp::RangeCounts b = amp::count_ranges(Backend::cpu, DType::f32, t.values.data(),
                                                       std::int64_t(t.values.size()), DType::bf16, kScales[k], nullptr);
          if (out) out->row(phase, t.name, "bf16", kScaleNames[k], b.total(), b.n[0], b.n[1], b.n[2], b.n[3], b.n[4], b.n[5]);
          if (k == 0) bf16 = b;
        }
        const auto [keep, room] = scale_range(t.values);
        auto pct = [](const amp::RangeCounts& r, int k) { return 100.0 * r.share(k); };
        std::printf("%-46s %9zu %5.1f%% %6.2f%% %6.2f%% %6.2f%% %6.2f%% | %5.2f%% %5.2f%% | %6.2f%% | 2^%d / 2^%d\n",
                    t.name.c_str(), t.values.size(), pct(f16[0], 0), pct(f16[0], 1), pct(f16[1], 1), pct(f16[2], 1),
                    pct(f16[3], 1), pct(f16[2], 4), pct(f16[3], 4), pct(bf16, 1), keep, room);
        if (hout) {
          std::map<int, std::int64_t> bins;
          for (float x : t.values)
            if (x != 0 && std::isfinite(x)) ++bins[int(std::floor(std::log2(std::fabs(double(x)))))];
          for (auto [lo, n] : bins) hout->row(phase, t.name, lo, n);
        }
      }
    };

    // Plain SGD in fp32 over the training split, reshuffled every epoch.
    measure("at initialisation", "");
    double loss = 0;
    std::vector<int> order = split.train;
    std::size_t at = order.size();
    std::int64_t epoch = 0;
    const optim::ParamBuffers buffers{Backend::cpu, model.store.size(), model.store.masters(), model.store.masters(),
                                      DType::f32, model.store.grads(), DType::f32, nullptr, nullptr};
    for (int s = 1; s <= steps; ++s) {
      if (at + std::size_t(batch_size) > order.size()) {
        for (std::size_t i = order.size() - 1; i > 0; --i)  // Fisher-Yates, counter-based
          std::swap(order[i], order[std::size_t(rng::uniform(rng::derive_seed(seed, std::uint64_t(++epoch)), i) * float(i + 1)) % (i + 1)]);
        at = 0;
      }
      const Batch b = task::make_batch(std::vector<int>(order.begin() + std::ptrdiff_t(at), order.begin() + std::ptrdiff_t(at + std::size_t(batch_size))));
      at += std::size_t(batch_size);
      model.zero_grad();
      model.forward(b, RunState{true, seed, std::uint64_t(s)});
      loss = model.loss(task::kPad);
      model.backward();
      optim::sgd_step(buffers, lr, optim::MasterMode::master, seed, s);
      if (s % 50 == 0) std::printf("step %4d  loss %.4f\n", s, loss);
    }
    if (steps > 0) {
      char l[64];
      std::snprintf(l, sizeof l, " (training loss %.3f)", loss);
      measure("after " + std::to_string(steps) + " steps", l);
    }
  });
}
