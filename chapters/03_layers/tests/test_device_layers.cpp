// Whole layers on the device (emu in ch03_tests_emu, cuda in ch03_tests_gpu:
// HALFWAY_TEST_BACKEND) against the same layers on the cpu. On the device every op is a
// kernel on device buffers: the GEMMs are chapter 02's kernels (tensor cores for 16-bit
// inputs, the SIMT fp32 kernel for float) and the row-wise ops run a block per row.
//
// Bounds. Both sides compute the same formulas and differ only in the order of their sums
// (block reductions and GEMM tiles against serial loops and OpenBLAS) and, in mixed mode,
// in a stored value that may round to the neighbouring 16-bit number. A sum of K terms in
// fp32 is within K u32 sum|terms| of the exact one whatever the order (u32 = 2^-24), so two
// orders differ by at most 2 K u32 relative to it, with K <= 32 here (d_ff). A stored value
// differs by at most one rounding u_S. With e the larger of 2 K u32 and u_S per value, and
// the counts of test_mixed.cpp (one encoder and one decoder layer: 50 such values on the
// longest forward path, twice that backward), the norm-wise relative error is at most 50 e
// forward and 100 e for a gradient. With ReLU a gradient also gets the kink term
// sqrt(50 e): a pre-activation within its error of 0 may change sign, which moves its whole
// gradient, not a rounding's worth of it. GELU is smooth (and dropout's masks are the same
// bits on both sides), so the GELU runs are checked without that term: a tighter test.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "chapters/03_layers/tests/gradcheck.hpp"
#include "chapters/03_layers/tests/small_model.hpp"

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
  Config c = small_config();
  c.pre_ln = pre;
  c.activation = pre ? Activation::gelu : Activation::relu;  // both activations' kernels
  Seq2Seq<S> model(c);
  auto ps = model.params();
  randomize(model.store, 31, 0.3);
  const Batch b = small_batch();
  // Two steps: the second reuses every buffer, draws new dropout masks and starts from
  // zero_grad() (one launch over the store's gradients). Its results are compared.
  Run r;
  for (std::uint64_t step : {1u, 2u}) {
    r = Run{};
    model.zero_grad();
    model.forward(b, RunState{true, 3, step});
    const std::vector<S> logits = model.logits_host();
    std::vector<double> l(logits.size());
    for (std::size_t i = 0; i < l.size(); ++i) l[i] = double(ld(logits[i]));
    r.names.push_back("logits");
    r.values.push_back(l);
    r.names.push_back("loss");
    r.values.push_back({double(model.loss(0, 0.1f))});
    model.backward();
    for (auto* p : ps) {
      const std::vector<float> g = model.store.grad_host(*p);  // a host copy, asked for
      r.names.push_back(p->name);
      r.values.push_back(std::vector<double>(g.begin(), g.end()));
    }
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

// The bound of the file's header for storage type S.
template <class S>
double bound(bool forward, bool relu) {
  const double u32 = std::ldexp(1.0, -24), k = 32;
  const double uS = std::is_same_v<S, half> ? std::ldexp(1.0, -11)
                    : std::is_same_v<S, bfloat16> ? std::ldexp(1.0, -8) : 0.0;
  const double e = std::max(2 * k * u32, uS);
  return forward ? 50 * e : 100 * e + (relu ? std::sqrt(50 * e) : 0.0);
}

TEST_CASE("device: the layers' backend scope") {
  {
    BackendScope scope(test_device());
    REQUIRE(on_device<float>());
    REQUIRE(on_device<half>());
    REQUIRE(!on_device<double>());  // fp64 is the cpu's checking mode only
  }
  CHECK(!on_device<float>());  // the scope ended: back on the cpu
}

TEST_CASE_TEMPLATE("device: the whole model against the cpu, fp32 and mixed", S, float, half, bfloat16) {
  for (bool pre : {false, true}) {
    CAPTURE(pre);
    const Run cpu = run_model<S>(Backend::cpu, pre), dev = run_model<S>(test_device(), pre);
    double worst = 0;
    for (std::size_t i = 0; i < cpu.names.size(); ++i) worst = std::max(worst, rel_error(dev.values[i], cpu.values[i]));
    char note[160];
    std::snprintf(note, sizeof note, "%s %s: largest %s/cpu relative error %.3g (bounds %.3g forward, %.3g backward)",
                  precision_name<S>(), pre ? "pre-LN GELU" : "post-LN ReLU", std::string(to_string(test_device())).c_str(), worst,
                  bound<S>(true, !pre), bound<S>(false, !pre));
    MESSAGE(note);
    for (std::size_t i = 0; i < cpu.names.size(); ++i) {
      CAPTURE(cpu.names[i]);
      const bool fwd = cpu.names[i] == "logits" || cpu.names[i] == "loss";
      CHECK(rel_error(dev.values[i], cpu.values[i]) <= bound<S>(fwd, !pre));
    }
  }
}
