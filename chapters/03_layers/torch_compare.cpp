// ch03_torch_compare FILE [--pre-ln]: our encoder-decoder in fp32 against PyTorch's, from the reference
// that pytorch_reference.py exported (weights, inputs, logits, loss and every gradient).
// Prints the largest relative error of every tensor; exits 0 when every tensor is within
// its bound, 1 when one is not, 77 (ctest's Skipped) when the file does not exist.
//
// Bound (norm-wise relative error ||ours - torch|| / ||torch||), as in tests/test_mixed.cpp:
// both sides compute in fp32, so each of the ~94 roundings on the forward path (188 on the
// backward path) contributes at most 2^-24, and an fp32 sum of K = 2048 terms (the widest,
// d_ff) at most K 2^-24: forward (94 + 2048) 2^-24 = 1.3e-4. The gradients add ReLU's kink
// term sqrt(94 * 2^-24) = 2.4e-3 (an element within rounding distance of 0 can take either
// side; see test_mixed.cpp): backward 2.5e-3.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/safetensors.hpp"
#include "kernels/layers/transformer.hpp"
#include "common/error.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

struct Errors {
  double max_rel = 0;   // max_i |a_i - b_i| / max_i |b_i|: the largest error against the tensor's scale
  double norm_rel = 0;  // ||a - b|| / ||b||
  bool finite = true;
};

Errors compare(const std::vector<double>& a, const std::vector<double>& b) {
  Errors e;
  double num = 0, den = 0, maxd = 0, maxb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) e.finite = false;
    const double d = std::abs(a[i] - b[i]);
    num += d * d;
    den += b[i] * b[i];
    maxd = std::max(maxd, d);
    maxb = std::max(maxb, std::abs(b[i]));
  }
  e.max_rel = maxb > 0 ? maxd / maxb : maxd;
  e.norm_rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return e;
}

std::vector<std::int32_t> ints(const SafeTensor& t) {
  std::vector<std::int32_t> v;
  for (double x : t.as_double()) v.push_back(std::int32_t(x));
  return v;
}

int run(const std::string& path, bool pre_ln) {
  if (!std::filesystem::exists(path)) {
    std::printf("ch03_torch_compare: no reference at %s (torch missing?): skipped\n", path.c_str());
    return 77;
  }
  auto ref = read_safetensors(path);
  const auto get = [&](const std::string& name) -> const SafeTensor& {
    auto it = ref.find(name);
    if (it == ref.end()) throw Error("ch03_torch_compare: expected a tensor '" + name + "' in " + path + ", found none");
    return it->second;
  };
  Config c;  // the seed's model: 13 tokens, 128, 4 heads, 2 + 2 layers, 2048, ReLU, post-LN
  c.dropout = 0.0f;
  c.pre_ln = pre_ln;
  Seq2Seq<float> model(c);
  for (auto* p : model.params()) {
    const SafeTensor& t = get("param." + p->name);
    HALFWAY_EXPECT(t.shape == p->shape, p->name + " of our shape", "another shape in the reference");
    const auto v = t.as_double();
    model.store.set_master(*p, std::vector<float>(v.begin(), v.end()));
  }
  model.sync();
  Batch b;
  const SafeTensor& src = get("src");
  const SafeTensor& tgt = get("tgt_in");
  b.B = int(src.shape[0]), b.Ls = int(src.shape[1]), b.Lt = int(tgt.shape[1]);
  b.src = ints(src);
  b.tgt_in = ints(tgt);
  b.tgt_out = ints(get("tgt_out"));
  for (double x : get("src_pad").as_double()) b.src_pad.push_back(std::uint8_t(x));
  for (double x : get("tgt_pad").as_double()) b.tgt_pad.push_back(std::uint8_t(x));

  model.zero_grad();
  const float* logits = model.forward(b, RunState{true, 0, 0});
  const float loss = model.loss(/*ignore_index*/ 0, /*smoothing*/ 0.1f);
  model.backward();

  const double fwd_bound = (94 + 2048) * std::ldexp(1.0, -24);
  const double bwd_bound = (188 + 2048) * std::ldexp(1.0, -24) + std::sqrt(94 * std::ldexp(1.0, -24));
  int failed = 0;
  std::printf("%-58s %12s %12s %10s\n", "tensor", "max rel err", "norm rel err", "bound");
  const auto report = [&](const std::string& name, const std::vector<double>& ours,
                          const std::vector<double>& theirs, double bound) {
    const Errors e = compare(ours, theirs);
    const bool ok = e.finite && e.norm_rel <= bound;
    failed += !ok;
    std::printf("%-58s %12.3e %12.3e %10.1e%s\n", name.c_str(), e.max_rel, e.norm_rel, bound, ok ? "" : "  FAILED");
  };
  const std::size_t nl = std::size_t(b.B) * b.Lt * c.vocab;
  report("logits", std::vector<double>(logits, logits + nl), get("logits").as_double(), fwd_bound);
  report("loss", {double(loss)}, get("loss").as_double(), fwd_bound);
  for (auto* p : model.params())
  {
    const std::vector<float> g = model.store.grad_host(*p);
    report("grad." + p->name, std::vector<double>(g.begin(), g.end()), get("grad." + p->name).as_double(), bwd_bound);
  }
  std::printf("ch03_torch_compare: %s (%d tensors out of bounds); torch loss %.7f, ours %.7f\n",
              failed ? "FAILED" : "passed", failed, get("loss").as_double()[0], double(loss));
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool pre_ln = argc == 3 && std::string(argv[2]) == "--pre-ln";
  if (argc != 2 && !pre_ln) {
    std::fprintf(stderr, "usage: ch03_torch_compare REFERENCE.safetensors [--pre-ln]\n");
    return 2;
  }
  try {
    return run(argv[1], pre_ln);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
