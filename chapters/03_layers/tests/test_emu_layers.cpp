// Whole layers on Backend::emu against the same layers on the cpu.
//
// fp32 mode: the GEMMs stay on the cpu (chapter 02's kernels take 16-bit inputs) and every
// other op is a kernel running the cpu's own row function or expression, so the results
// must be bit-identical: the bound is 0.
// Mixed mode: the GEMMs run chapter 02's tensor-core kernels under the emulator, which add
// in another order than OpenBLAS; fp32 sums then differ by a few 2^-24, and a stored value
// may round to the neighbouring 16-bit number. So the bound is the one of test_mixed.cpp
// (k u_S norm-wise, k the roundings on the longest path: one differing rounding per stored
// value at most) with the counts stated there.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "chapters/03_layers/tests/gradcheck.hpp"

using namespace halfway;
using namespace halfway::layers;
using namespace ch03test;

namespace {

struct Run {
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;
};

template <class S>
Run run_model(Backend backend, bool pre) {
  BackendScope scope(backend);
  Config c;
  c.vocab = 7, c.d_model = 16, c.heads = 2, c.d_ff = 32, c.encoder_layers = 1, c.decoder_layers = 1;
  c.dropout = 0.1f;
  c.pre_ln = pre;
  Seq2Seq<S> model(c);
  auto ps = model.params();
  randomize(ps, 31, 0.3);
  Batch b;
  b.B = 2, b.Ls = 3, b.Lt = 3;
  b.src = {1, 2, 2, 3, 4, 0};
  b.src_pad = {0, 0, 0, 0, 0, 1};
  b.tgt_in = {5, 6, 6, 5, 1, 0};
  b.tgt_pad = {0, 0, 0, 0, 0, 1};
  b.tgt_out = {6, 6, 2, 1, 0, 0};
  Run r;
  const S* logits = model.forward(b, RunState{true, 3, 1});
  std::vector<double> l(std::size_t(b.B) * b.Lt * c.vocab);
  for (std::size_t i = 0; i < l.size(); ++i) l[i] = double(ld(logits[i]));
  r.names.push_back("logits");
  r.values.push_back(l);
  r.names.push_back("loss");
  r.values.push_back({double(model.loss(0, 0.1f))});
  model.backward();
  for (auto* p : ps) {
    r.names.push_back(p->name);
    r.values.push_back(std::vector<double>(p->grad.begin(), p->grad.end()));
  }
  return r;
}

double rel_error(const std::vector<double>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace

TEST_CASE("emu: the whole model in fp32 equals the cpu bit for bit") {
  {
    BackendScope scope(Backend::emu);  // this build runs the layers' kernels on emu
    REQUIRE(on_emu<float>());
    REQUIRE(on_emu<half>());
  }
  CHECK(!on_emu<float>());  // the scope ended: back on the cpu
  for (bool pre : {false, true}) {
    CAPTURE(pre);
    const Run cpu = run_model<float>(Backend::cpu, pre), emu = run_model<float>(Backend::emu, pre);
    for (std::size_t i = 0; i < cpu.names.size(); ++i) {
      CAPTURE(cpu.names[i]);
      CHECK(rel_error(emu.values[i], cpu.values[i]) == 0.0);
    }
  }
}

TEST_CASE_TEMPLATE("emu: the whole model in mixed mode with the tensor-core GEMM", S, half, bfloat16) {
  const double u = std::is_same_v<S, half> ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
  for (bool pre : {false, true}) {
    CAPTURE(pre);
    const Run cpu = run_model<S>(Backend::cpu, pre), emu = run_model<S>(Backend::emu, pre);
    double worst = 0;
    for (std::size_t i = 0; i < cpu.names.size(); ++i) worst = std::max(worst, rel_error(emu.values[i], cpu.values[i]));
    const std::string note = std::string(precision_name<S>()) + (pre ? " pre-LN" : " post-LN") +
                             ": largest emu/cpu relative error " + std::to_string(worst);
    MESSAGE(note);
    // (At these small K the emulated tensor-core GEMM often adds in the same order as
    // OpenBLAS and the results coincide; at K = 1000 they differ by ~1e-4.)
    for (std::size_t i = 0; i < cpu.names.size(); ++i) {
      CAPTURE(cpu.names[i]);
      const bool fwd = cpu.names[i] == "logits" || cpu.names[i] == "loss";
      // one encoder and one decoder layer: (2 + 18 + 1 + 26 + 1 + 2) = 50 roundings forward,
      // twice that backward, plus ReLU's kink term sqrt(50 u) (test_mixed.cpp).
      const double bound = fwd ? 50 * u : 100 * u + std::sqrt(50 * u);
      CHECK(rel_error(emu.values[i], cpu.values[i]) <= bound);
    }
  }
}
