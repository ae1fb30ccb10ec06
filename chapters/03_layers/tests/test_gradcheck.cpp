// Every backward pass of chapter 03 against central finite differences in fp64: every
// input gradient and every parameter gradient, element by element (bound: gradcheck.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "chapters/03_layers/tests/gradcheck.hpp"

using namespace halfway::layers;
using namespace ch03test;

namespace {

// Runs forward (returns y, n_out values) and checks dL/dx for L = <y, w>, and every param.
template <class Fwd, class Bwd>
void check_layer(const char* what, std::vector<double>& x, std::size_t n_out, ParamList<double> ps,
                 Fwd forward, Bwd backward, std::uint64_t seed) {
  const auto w = normal_vec(n_out, seed);
  const auto loss = [&] { return dot(forward(), w); };
  ps.front()->store->zero_grads();
  forward();
  const double* dx = backward(w.data());
  const std::vector<double> dx_copy(dx, dx + x.size());
  const auto r = check_gradient(std::string(what) + " dx", x.data(), dx_copy.data(), x.size(), loss);
  CHECK(r.checked == x.size());
  for (auto* p : ps) check_param(*p, loss);
}

}  // namespace

TEST_CASE("gradcheck: linear dX dW db") {
  Linear<double> lin("lin.", 7, 6);
  ParamList<double> ps;
  lin.collect(ps);
  ParamStore<double> store(ps);
  randomize(store, 1);
  auto x = normal_vec(5 * 7, 2);
  check_layer("linear", x, 5 * 6, ps, [&] { return lin.forward(x.data(), 5); },
              [&](const double* dy) { return lin.backward(dy); }, 3);
}

TEST_CASE("gradcheck: layernorm dX dgamma dbeta with d not a multiple of 16") {
  LayerNorm<double> ln("ln.", 9, 1e-5);
  ParamList<double> ps;
  ln.collect(ps);
  ParamStore<double> store(ps);
  randomize(store, 4);
  auto x = normal_vec(4 * 9, 5, 3.0);
  check_layer("layernorm", x, 4 * 9, ps, [&] { return ln.forward(x.data(), 4); },
              [&](const double* dy) { return ln.backward(dy); }, 6);
}

TEST_CASE("gradcheck: self-attention with causal and padding masks and dropout") {
  const int B = 2, L = 5, D = 8, H = 2;
  MultiheadAttention<double> mha("attn.", D, H, 0.2f);
  ParamList<double> ps;
  mha.collect(ps);
  ParamStore<double> store(ps);
  randomize(store, 7);
  auto x = normal_vec(std::size_t(B) * L * D, 8);
  // batch 0: last two keys padded; batch 1: nothing padded.
  std::vector<std::uint8_t> pad = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
  const RunState run{true, 42, 3};
  check_layer("self-attention", x, std::size_t(B) * L * D, ps,
              [&] { return mha.forward(x.data(), x.data(), B, L, L, pad.data(), true, run); },
              [&](const double* dy) { return mha.backward(dy); }, 9);
}

TEST_CASE("gradcheck: cross-attention dXq dXkv and parameters") {
  const int B = 2, Lq = 3, Lk = 4, D = 6, H = 3;
  MultiheadAttention<double> mha("cross.", D, H, 0.0f);
  ParamList<double> ps;
  mha.collect(ps);
  ParamStore<double> store(ps);
  randomize(store, 10);
  auto xq = normal_vec(std::size_t(B) * Lq * D, 11);
  auto xkv = normal_vec(std::size_t(B) * Lk * D, 12);
  std::vector<std::uint8_t> pad = {0, 1, 0, 1, 0, 0, 0, 0};
  const RunState run{false, 0, 0};
  const auto w = normal_vec(std::size_t(B) * Lq * D, 13);
  const auto loss = [&] {
    return dot(mha.forward(xq.data(), xkv.data(), B, Lq, Lk, pad.data(), false, run), w);
  };
  loss();
  const double* dq = mha.backward(w.data());
  const std::vector<double> dxq(dq, dq + xq.size()), dxkv(mha.dx_kv(), mha.dx_kv() + xkv.size());
  CHECK(check_gradient("dxq", xq.data(), dxq.data(), xq.size(), loss).checked == xq.size());
  CHECK(check_gradient("dxkv", xkv.data(), dxkv.data(), xkv.size(), loss).checked == xkv.size());
  for (auto* p : ps) check_param(*p, loss);
}

TEST_CASE("gradcheck: feed-forward with ReLU and with GELU and dropout") {
  for (Activation act : {Activation::relu, Activation::gelu}) {
    CAPTURE(int(act));
    FeedForward<double> ff("", 5, 11, act, 0.25f);
    ParamList<double> ps;
    ff.collect(ps);
    ParamStore<double> store(ps);
    randomize(store, 14);
    auto x = normal_vec(3 * 5, 15);
    const RunState run{true, 5, 1};
    check_layer("feed-forward", x, 3 * 5, ps, [&] { return ff.forward(x.data(), 3, run); },
                [&](const double* dy) { return ff.backward(dy); }, 16);
  }
}

namespace {
Config small_config(bool pre_ln, float dropout) {
  Config c;
  c.vocab = 7;
  c.d_model = 6;
  c.heads = 2;
  c.d_ff = 10;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.dropout = dropout;
  c.pre_ln = pre_ln;
  return c;
}
}  // namespace

TEST_CASE("gradcheck: encoder layer post-LN and pre-LN") {
  for (bool pre : {false, true}) {
    CAPTURE(pre);
    const Config c = small_config(pre, 0.1f);
    EncoderLayer<double> layer("enc.", c);
    ParamList<double> ps;
    layer.collect(ps);
    ParamStore<double> store(ps);
    randomize(store, 17);
    const int B = 2, L = 3;
    auto x = normal_vec(std::size_t(B) * L * c.d_model, 18);
    std::vector<std::uint8_t> pad = {0, 0, 1, 0, 0, 0};
    const RunState run{true, 9, 2};
    check_layer("encoder layer", x, x.size(), ps,
                [&] { return layer.forward(x.data(), B, L, pad.data(), run); },
                [&](const double* dy) { return layer.backward(dy); }, 19);
  }
}

TEST_CASE("gradcheck: decoder layer post-LN and pre-LN with the memory gradient") {
  for (bool pre : {false, true}) {
    CAPTURE(pre);
    const Config c = small_config(pre, 0.1f);
    DecoderLayer<double> layer("dec.", c);
    ParamList<double> ps;
    layer.collect(ps);
    ParamStore<double> store(ps);
    randomize(store, 20);
    const int B = 2, Lt = 3, Ls = 4;
    auto x = normal_vec(std::size_t(B) * Lt * c.d_model, 21);
    auto mem = normal_vec(std::size_t(B) * Ls * c.d_model, 22);
    std::vector<std::uint8_t> tpad = {0, 0, 1, 0, 0, 0}, spad = {0, 0, 0, 1, 0, 0, 0, 0};
    const RunState run{true, 10, 4};
    const auto w = normal_vec(x.size(), 23);
    const auto loss = [&] {
      return dot(layer.forward(x.data(), mem.data(), B, Lt, Ls, tpad.data(), spad.data(), run), w);
    };
    loss();
    const double* d = layer.backward(w.data());
    const std::vector<double> dx(d, d + x.size()), dmem(layer.dmem(), layer.dmem() + mem.size());
    CHECK(check_gradient("dx", x.data(), dx.data(), x.size(), loss).checked == x.size());
    CHECK(check_gradient("dmem", mem.data(), dmem.data(), mem.size(), loss).checked == mem.size());
    for (auto* p : ps) check_param(*p, loss);
  }
}

TEST_CASE("gradcheck: cross-entropy with label smoothing and an ignored row") {
  const int rows = 4, V = 5;
  auto logits = normal_vec(rows * V, 24, 2.0);
  std::vector<std::int32_t> targets = {3, 0, 4, 1};
  targets[2] = -100;  // ignored
  std::vector<double> dl(rows * V);
  int counted = 0;
  cross_entropy<double>(logits.data(), targets.data(), rows, V, -100, 0.1, 1.0, dl.data(), &counted);
  CHECK(counted == 3);
  std::vector<double> scratch(rows * V);
  const auto loss = [&] {
    return cross_entropy<double>(logits.data(), targets.data(), rows, V, -100, 0.1, 1.0, scratch.data());
  };
  CHECK(check_gradient("dlogits", logits.data(), dl.data(), dl.size(), loss).checked == dl.size());
  for (int j = 0; j < V; ++j) CHECK(dl[2 * V + j] == 0.0);  // the ignored row
}

TEST_CASE("gradcheck: the whole encoder-decoder with embedding repeated tokens and final norms") {
  for (bool pre : {false, true}) {
    CAPTURE(pre);
    const Config c = small_config(pre, 0.1f);
    Seq2Seq<double> model(c);
    auto ps = model.params();
    randomize(model.store, 25);
    Batch b;
    b.B = 2, b.Ls = 4, b.Lt = 3;
    b.src = {1, 2, 2, 0, 3, 3, 3, 3};  // repeated tokens; token 0 is padding
    b.src_pad = {0, 0, 0, 1, 0, 0, 0, 0};
    b.tgt_in = {5, 4, 4, 5, 6, 0};
    b.tgt_pad = {0, 0, 0, 0, 0, 1};
    b.tgt_out = {4, 4, 6, 6, 0, 0};
    const RunState run{true, 77, 5};
    const auto loss = [&] {
      model.forward(b, run);
      return double(model.loss(/*ignore*/ 0, 0.1));
    };
    model.zero_grad();
    loss();
    model.backward();
    for (auto* p : ps) check_param(*p, loss);
  }
}
