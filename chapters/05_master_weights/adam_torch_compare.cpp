// ch05_adam_torch_compare: the course's fused Adam/AdamW against PyTorch 1.13's, step by
// step. Reads the file adam_reference.py exports (three tensors, four optimizers, 200
// steps of given gradients), runs the same steps through optim::adam_step on the cpu (the
// three tensors as one flat buffer, as a parameter store holds them) and compares the
// parameters after every step with PyTorch's.
//
// Bound: both compute the same formulas in fp32 in the same order (addcdiv's: m times
// -step_size, then divided), but PyTorch's vectorised kernels fuse the multiply-adds of the
// L2 add, exp_avg and exp_avg_sq on a CPU with FMA and ours do not (adam_rounding.py shows
// that this is the whole difference), so a step's weight may differ by an ulp of the weight;
// the differences do not compound beyond that because Adam's normalised step is bounded
// by lr. Over 200 steps of lr 1e-3 on weights of size ~1 the 1e-6 relative
// (max |ours - torch| / max |torch| per tensor and step) leaves ample room; the program
// prints the worst it saw. Exit code 77 when the file is missing (torch not importable).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/safetensors.hpp"
#include "kernels/optim/optimizer.hpp"

using namespace halfway;

namespace {
/// The spacing of floats at x: the unit the element-wise differences are counted in.
double ulp_of(float x) { return double(std::nextafter(std::fabs(x), INFINITY)) - std::fabs(x); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 05: the fused Adam/AdamW against PyTorch's, 200 steps"};
  std::string path;
  double tolerance = 1e-6;
  app.add_option("reference", path, "the safetensors file adam_reference.py exported")->required();
  app.add_option("--tolerance", tolerance, "largest relative difference allowed (max |d| / max |torch|)");
  if (argc >= 2 && !std::filesystem::exists(argv[1])) {
    std::fprintf(stderr, "ch05_adam_torch_compare: no reference file %s (is torch importable?): skipped\n", argv[1]);
    return 77;
  }
  return run_program(argc, argv, app, [&] {
    const auto file = layers::read_safetensors(path);
    auto get = [&](const std::string& name) {
      auto it = file.find(name);
      HALFWAY_EXPECT(it != file.end(), "tensor " + name + " in " + path, "none");
      return it->second;
    };
    struct Config {
      const char* name;
      double weight_decay;
      bool decoupled;
    };
    const Config configs[] = {{"adam", 0.0, false}, {"adam_l2", 0.01, false}, {"adamw", 0.01, true}, {"adamw_nodecay", 0.0, true}};
    double worst_all = 0;
    bool ok = true;
    for (const Config& c : configs) {
      // the three tensors one after another in one flat buffer
      std::vector<std::int64_t> offset{0};
      std::vector<float> w;
      for (int i = 0; i < 3; ++i) {
        for (double x : get("init." + std::to_string(i)).as_double()) w.push_back(float(x));
        offset.push_back(std::int64_t(w.size()));
      }
      const std::int64_t n = std::int64_t(w.size());
      const auto count = static_cast<std::size_t>(n);
      std::vector<float> m(count, 0.0f), v(count, 0.0f), g(count);
      std::vector<std::vector<double>> grads, params;
      for (int i = 0; i < 3; ++i) {
        grads.push_back(get(std::string(c.name) + ".grads." + std::to_string(i)).as_double());
        params.push_back(get(std::string(c.name) + ".params." + std::to_string(i)).as_double());
      }
      optim::AdamOptions o;
      o.lr = 1e-3, o.beta1 = 0.9, o.beta2 = 0.98, o.eps = 1e-9, o.weight_decay = c.weight_decay, o.decoupled = c.decoupled;
      const optim::ParamBuffers buf{Backend::cpu, n, w.data(), w.data(), DType::f32, g.data(), DType::f32, m.data(), v.data()};
      double worst = 0, worst_ulps = 0;
      std::int64_t identical = 0;  // weights with PyTorch's bits after the last step
      const int steps = int(grads[0].size() / std::size_t(offset[1] - offset[0]));
      for (int t = 1; t <= steps; ++t) {
        for (int i = 0; i < 3; ++i) {
          const std::int64_t len = offset[std::size_t(i) + 1] - offset[std::size_t(i)];
          for (std::int64_t k = 0; k < len; ++k)
            g[std::size_t(offset[std::size_t(i)] + k)] = float(grads[std::size_t(i)][std::size_t((t - 1) * len + k)]);
        }
        optim::adam_step(buf, optim::adam_constants(o, o.lr, t), optim::MasterMode::master, 0, t);
        for (int i = 0; i < 3; ++i) {
          const std::int64_t len = offset[std::size_t(i) + 1] - offset[std::size_t(i)];
          double diff = 0, scale = 0;
          for (std::int64_t k = 0; k < len; ++k) {
            const double ref = params[std::size_t(i)][std::size_t((t - 1) * len + k)];
            const double ours = w[std::size_t(offset[std::size_t(i)] + k)];
            diff = std::max(diff, std::isfinite(ours) ? std::fabs(ours - ref) : INFINITY);
            if (std::fabs(ref) >= 1.0 / 16) worst_ulps = std::max(worst_ulps, std::fabs(ours - ref) / ulp_of(float(ref)));
            if (t == steps && ours == ref) ++identical;
            scale = std::max(scale, std::fabs(ref));
          }
          worst = std::max(worst, diff / scale);
        }
      }
      std::printf("%-14s %d steps: largest relative difference from PyTorch %.2e (tolerance %.0e), at most %.0f ulp of a weight >= 1/16;"
                  " %lld of %lld weights identical at the end\n",
                  c.name, steps, worst, tolerance, worst_ulps, static_cast<long long>(identical), static_cast<long long>(n));
      worst_all = std::max(worst_all, worst);
      ok = ok && worst <= tolerance;
    }
    if (!ok) throw Error("ch05_adam_torch_compare: expected every step within " + std::to_string(tolerance) +
                         " of PyTorch, found " + std::to_string(worst_all));
  });
}
