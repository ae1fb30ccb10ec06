// The hazards of chapter 03, by name: fully masked rows, logits near fp16's max, a
// LayerNorm input whose variance overflows fp16, repeated tokens in the embedding backward,
// sequence length 1, d_model not a multiple of 16; and dropout's reproducible mask.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "chapters/03_layers/tests/gradcheck.hpp"

using namespace halfway;
using namespace halfway::layers;
using namespace ch03test;

namespace {
template <class S>
std::vector<S> to_s(const std::vector<double>& v) {
  std::vector<S> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = st<S>(acc_t<S>(v[i]));
  return out;
}
template <class S>
bool all_finite(const S* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(double(ld(p[i])))) return false;
  return true;
}
}  // namespace

TEST_CASE_TEMPLATE("hazard: a fully masked softmax row gives zeros not NaN", S, float, half, bfloat16) {
  using A = acc_t<S>;
  const int B = 2, H = 1, L = 3;
  std::vector<A> scores(B * H * L * L, A(1000));  // large scores too: no overflow either
  std::vector<std::uint8_t> pad = {1, 1, 1, 0, 0, 1};  // batch 0: every key is padding
  std::vector<S> p(scores.size());
  masked_softmax_forward<S>(scores.data(), p.data(), B, H, L, L, pad.data(), true);
  for (int i = 0; i < L * L; ++i) CHECK(double(ld(p[i])) == 0.0);
  // batch 1, causal and key 2 padded: row 0 sees key 0; rows 1 and 2 see keys 0 and 1.
  const double expect[9] = {1, 0, 0, 0.5, 0.5, 0, 0.5, 0.5, 0};
  for (int i = 0; i < L * L; ++i) CHECK(double(ld(p[L * L + i])) == expect[i]);
  // The backward of a fully masked row is zero as well.
  std::vector<A> dp(p.size(), A(3));
  std::vector<S> ds(p.size());
  softmax_backward<S>(p.data(), dp.data(), ds.data(), B * H * L, L);
  for (int i = 0; i < L * L; ++i) CHECK(double(ld(ds[i])) == 0.0);
  CHECK(all_finite(ds.data(), ds.size()));
}

TEST_CASE_TEMPLATE("hazard: attention with a fully padded sequence stays finite", S, float, half) {
  const int B = 2, L = 4, D = 8;
  MultiheadAttention<S> mha("a.", D, 2, 0.0f);
  ParamList<S> ps;
  mha.collect(ps);
  ParamStore<S> store(ps);
  randomize(store, 1);
  auto x = to_s<S>(normal_vec(B * L * D, 2));
  std::vector<std::uint8_t> pad = {1, 1, 1, 1, 0, 0, 0, 0};
  const S* y = mha.forward(x.data(), x.data(), B, L, L, pad.data(), false, RunState{false, 0, 0});
  CHECK(all_finite(y, x.size()));
  std::vector<S> dy = to_s<S>(normal_vec(x.size(), 3));
  const S* dx = mha.backward(dy.data());
  CHECK(all_finite(dx, x.size()));
  for (auto* p : ps)
    for (float g : store.grad_host(*p)) REQUIRE(std::isfinite(g));
}

TEST_CASE("hazard: cross-entropy of logits near fp16's max is finite and right") {
  // Logits 65504 (fp16's largest), 65472, -65504 and 0: exp() of any of them overflows
  // float and fp16; log-sum-exp subtracts the max first.
  const std::vector<half> logits = {half(65504.0f), half(65472.0f), half(-65504.0f), half(0.0f)};
  std::vector<half> dl(4);
  const std::int32_t target = 1;
  const float loss = cross_entropy<half>(logits.data(), &target, 1, 4, -100, 0.0f, 1.0f, dl.data());
  // -log softmax_1 = log(1 + e^-32) + 32 (the others are e^-65504 ~ 0): 32 + 1.3e-14.
  CHECK(loss == doctest::Approx(32.0).epsilon(1e-6));
  CHECK(all_finite(dl.data(), 4));
  CHECK(float(dl[0]) == doctest::Approx(1.0).epsilon(1e-3));   // p_0 ~ 1
  CHECK(float(dl[1]) == doctest::Approx(-1.0).epsilon(1e-3));  // p_1 - 1 ~ -1
  // With label smoothing the loss includes eps/V * sum_j (lse - z_j): still finite.
  const float smooth = cross_entropy<half>(logits.data(), &target, 1, 4, -100, 0.1f, 1.0f, dl.data());
  CHECK(std::isfinite(smooth));
  CHECK(all_finite(dl.data(), 4));
}

TEST_CASE_TEMPLATE("hazard: layernorm input whose variance overflows fp16", S, half, bfloat16) {
  // x = +-300 (fine in fp16) has variance 90000 > 65504: computed in fp16 it would be inf
  // and every output 0 or NaN. The statistics are fp32, so the output is +-1 (gamma 1, beta 0).
  const int D = 24;
  std::vector<S> x(D);
  for (int i = 0; i < D; ++i) x[i] = st<S>(i % 2 ? 300.0f : -300.0f);
  CHECK(std::isinf(float(half(90000.0f))));  // the hazard itself
  LayerNorm<S> ln("ln.", D, 1e-5);
  ParamList<S> ps;
  ln.collect(ps);
  ParamStore<S> store(ps);  // gamma 1, beta 0
  const S* y = ln.forward(x.data(), 1);
  for (int i = 0; i < D; ++i) CHECK(float(y[i]) == doctest::Approx(i % 2 ? 1.0 : -1.0).epsilon(0.01));
  std::vector<S> dy(D);
  for (int i = 0; i < D; ++i) dy[i] = st<S>(float(i % 3) - 1.0f);
  const S* dx = ln.backward(dy.data());
  CHECK(all_finite(dx, D));
  for (float g : store.grad_host(ln.weight)) CHECK(std::isfinite(g));
}

TEST_CASE("hazard: repeated tokens in the embedding backward add up") {
  const int V = 5, D = 4;
  const std::vector<std::int32_t> tokens = {3, 1, 3, 3};
  std::vector<float> dy(tokens.size() * D);
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = float(i % 7) - 3.0f;  // integers: exact sums
  std::vector<float> grad(V * D, 0.0f);
  embedding_backward<float>(tokens.data(), int(tokens.size()), dy.data(), D, grad.data());
  for (int i = 0; i < D; ++i) {
    CHECK(grad[3 * D + i] == 2.0f * (dy[0 * D + i] + dy[2 * D + i] + dy[3 * D + i]));  // sqrt(4) = 2
    CHECK(grad[1 * D + i] == 2.0f * dy[1 * D + i]);
    CHECK(grad[0 * D + i] == 0.0f);
  }
  // ... and are accumulated across calls (the shared source and target embedding).
  embedding_backward<float>(tokens.data(), 1, dy.data(), D, grad.data());
  CHECK(grad[3 * D] == 2.0f * (dy[0] + dy[0] + dy[2 * D] + dy[3 * D]));
}

TEST_CASE("hazard: sequence length 1 (gradcheck of the whole model)") {
  Config c;
  c.vocab = 5, c.d_model = 4, c.heads = 2, c.d_ff = 6, c.encoder_layers = 1, c.decoder_layers = 1;
  c.dropout = 0.0f;
  Seq2Seq<double> model(c);
  auto ps = model.params();
  randomize(model.store, 5);
  Batch b;
  b.B = 2, b.Ls = 1, b.Lt = 1;
  b.src = {1, 2};
  b.src_pad = {0, 0};
  b.tgt_in = {3, 4};
  b.tgt_pad = {0, 0};
  b.tgt_out = {4, 2};
  const RunState run{false, 0, 0};
  const auto loss = [&] {
    model.forward(b, run);
    return double(model.loss(-100));
  };
  model.zero_grad();
  loss();
  model.backward();
  for (auto* p : ps) check_param(*p, loss);
}

TEST_CASE("hazard: d_model 17 (not a multiple of 16) in fp32 matches fp64") {
  Config c;
  c.vocab = 6, c.d_model = 17, c.heads = 1, c.d_ff = 33, c.encoder_layers = 1, c.decoder_layers = 1;
  c.dropout = 0.0f;
  Seq2Seq<double> ref(c);
  Seq2Seq<float> f32(c);
  auto pr = ref.params();
  auto pf = f32.params();
  randomize(ref.store, 6);
  // The same shapes in the same order: the same offsets, so the flat buffers copy as a whole.
  const std::vector<double> m = ref.store.masters_host();
  f32.store.set_masters(std::vector<float>(m.begin(), m.end()));
  f32.sync();
  Batch b;
  b.B = 1, b.Ls = 3, b.Lt = 2;
  b.src = {1, 2, 5};
  b.src_pad = {0, 0, 0};
  b.tgt_in = {3, 4};
  b.tgt_pad = {0, 0};
  b.tgt_out = {4, 1};
  const RunState run{false, 0, 0};
  ref.forward(b, run);
  f32.forward(b, run);
  // fp32 storage: a few hundred roundings of relative size 2^-24 along the longest path
  // (accumulations over d_ff = 33 and 17), so 1e-5 relative leaves a wide margin.
  CHECK(double(f32.loss(-100)) == doctest::Approx(double(ref.loss(-100))).epsilon(1e-5));
}

TEST_CASE("dropout: the mask is a pure function of seed and offset, scaled by 1/(1-p)") {
  // Element i is decided by word i % 4 of Philox block i / 4 (common/rng.hpp): check the
  // mapping against rng::block directly for a few elements.
  for (std::uint64_t i : {0ull, 1ull, 2ull, 3ull, 4ull, 77ull, 1000001ull}) {
    const float u = float(rng::block(1234, i / 4, rng::kStreamBits).v[i % 4] >> 8) * 0x1p-24f;
    CHECK(dropout_keep(1234, i, 0.25f) == (u >= 0.25f));
  }
  const std::int64_t n = 100000;
  std::vector<float> a(n, 1.0f), b(n, 1.0f);
  dropout_inplace(a.data(), n, 0.25f, 1234);
  dropout_inplace(b.data(), n, 0.25f, 1234);
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    REQUIRE(a[i] == b[i]);
    const bool keep = dropout_keep(1234, std::uint64_t(i), 0.25f);
    REQUIRE(a[i] == (keep ? 1.0f / 0.75f : 0.0f));
    kept += keep;
  }
  // Binomial(n, 0.75): standard deviation sqrt(n 0.75 0.25) ~ 137; 6 sigma.
  CHECK(std::abs(double(kept) - 0.75 * n) < 6 * 137);
  std::vector<float> c(n, 1.0f);
  dropout_inplace(c.data(), n, 0.25f, 1235);  // another seed: another mask
  CHECK(c != a);
}

TEST_CASE_TEMPLATE("dropout: the vectorised cpu mask equals dropout_keep element by element", T, float, half) {
  // The cpu turns 16 Philox blocks into 64 keep bits with an integer threshold
  // ceil(p 2^24) << 8 (AVX-512 where present): check it against the scalar rule at a p whose
  // p 2^24 is not an integer, at one so close to 1 that nearly nothing is kept, and with a
  // length that leaves a partial group and a tail of single blocks (n = 64 k + 39).
  for (float p : {0.1f, 0.25f, 0.7f, 0.99999994f}) {
    CAPTURE(p);
    const std::int64_t n = 64 * 1563 + 39;
    std::vector<T> v(std::size_t(n), st<T>(1.0f));
    dropout_inplace(v.data(), n, p, 99);
    const float scale = 1.0f / (1.0f - p);
    for (std::int64_t i = 0; i < n; ++i) {
      const bool keep = dropout_keep(99, std::uint64_t(i), p);
      REQUIRE(ld(v[std::size_t(i)]) == ld(st<T>(keep ? scale : 0.0f)));
    }
  }
}

TEST_CASE_TEMPLATE("the framework trains: plain SGD over params() lowers the loss of a copy task", S, float, half, bfloat16) {
  // What chapter 05's optimizer and chapter 07's trainer do, in miniature: update the fp32
  // masters, sync() the working copies, zero_grad() (here through host copies of the whole
  // store; chapter 05's optimizer is one kernel over its buffers). Copying a sequence is
  // easy; 60 steps must cut the loss at least in half (it starts near log 9 = 2.2).
  Config c;
  c.vocab = 9, c.d_model = 32, c.heads = 4, c.d_ff = 64, c.encoder_layers = 1, c.decoder_layers = 1;
  c.dropout = 0.0f;
  Seq2Seq<S> model(c);
  model.init(3);
  Batch b;
  b.B = 8, b.Ls = 5, b.Lt = 6;
  for (int s = 0; s < b.B; ++s) {
    std::vector<int> seq;
    for (int i = 0; i < 5; ++i) seq.push_back(2 + int(rng::bits(77, std::uint64_t(s * 5 + i)) % 7));
    for (int i = 0; i < 5; ++i) b.src.push_back(seq[i]);
    b.tgt_in.push_back(1);  // start token
    for (int i = 0; i < 5; ++i) b.tgt_in.push_back(seq[i]);
    for (int i = 0; i < 5; ++i) b.tgt_out.push_back(seq[i]);
    b.tgt_out.push_back(0);  // padding at the end: ignored
  }
  b.src_pad.assign(b.src.size(), 0);
  b.tgt_pad.assign(b.tgt_in.size(), 0);
  const RunState run{false, 0, 0};
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    model.zero_grad();
    model.forward(b, run);
    last = double(model.loss(0));
    if (step == 0) first = last;
    REQUIRE(std::isfinite(last));
    model.backward();
    std::vector<float> m = model.store.masters_host();
    const std::vector<float> g = model.store.grads_host();
    for (std::size_t i = 0; i < m.size(); ++i) m[i] -= 0.1f * g[i];
    model.store.set_masters(m);
    model.sync();
  }
  MESSAGE(std::string(precision_name<S>()) << ": loss " << first << " -> " << last);
  CHECK(first > 1.5);
  CHECK(last < 0.5 * first);
}
