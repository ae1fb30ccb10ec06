// fp32 and mixed mode (fp16 and bf16 storage) against the same layers in fp64.
//
// Tolerance, derived from the storage format: every value stored in S carries a relative
// rounding error of at most u (2^-24 fp32, 2^-11 fp16, 2^-8 bf16), and so does every weight's
// working copy. Along a path of k such roundings the norm-wise relative error of the result
// is at most about k u, as long as no step amplifies errors (LayerNorm and softmax do not at
// these well-scaled inputs). The fp32 accumulations add at most K 2^-24 for a sum of K terms
// (K = d_ff, the longest). So each check below is
//     ||x - x_ref|| / ||x_ref|| <= k u_S + K 2^-24
// with k counted for that output (stated at each check). The counts are upper bounds
// (rounding errors of random sign mostly cancel); the errors measured are printed.
//
// ReLU is not smooth: a pre-activation within rounding distance of 0 can change sign, and
// then its whole gradient is passed or dropped. With an absolute error of about k u |h|
// on h, a fraction ~ k u of the elements flips (h's density near 0 is below 1/|h|), and
// each carries a full-size gradient, so the gradients' norm-wise error grows like
// sqrt(k u), not k u. With ReLU the backward bound gets that term: + sqrt(k_forward u).
// GELU, smooth, needs none; both are tested.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "chapters/03_layers/tests/gradcheck.hpp"

using namespace halfway;
using namespace halfway::layers;
using namespace ch03test;

namespace {

template <class S>
constexpr double unit_roundoff() {
  if constexpr (std::is_same_v<S, float>) return std::ldexp(1.0, -24);
  else if constexpr (std::is_same_v<S, half>) return std::ldexp(1.0, -11);
  else return std::ldexp(1.0, -8);
}

double rel_error(const std::vector<double>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;  // NaN or Inf always fails
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

template <class T>
std::vector<double> as_double(const T* p, std::size_t n) {
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = double(ld(p[i]));
  return out;
}
template <class T>
std::vector<double> as_double(const std::vector<T>& v) {
  return as_double(v.data(), v.size());
}
template <class S>
std::vector<S> to_s(const std::vector<double>& v) {
  std::vector<S> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = st<S>(acc_t<S>(v[i]));
  return out;
}

Config mixed_config(bool pre_ln, Activation act) {
  Config c;
  c.activation = act;
  c.vocab = 11;
  c.d_model = 32;
  c.heads = 4;
  c.d_ff = 64;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.dropout = 0.1f;
  c.pre_ln = pre_ln;
  return c;
}

// Outputs of one run: named arrays in double.
struct Outputs {
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;
  void add(std::string n, std::vector<double> v) {
    names.push_back(std::move(n));
    values.push_back(std::move(v));
  }
};

template <class S>
Outputs run_encoder_layer(bool pre, Activation act) {
  const Config c = mixed_config(pre, act);
  EncoderLayer<S> layer("enc.", c);
  ParamList<S> ps;
  layer.collect(ps);
  ParamStore<S> store(ps);
  randomize(store, 100, 0.2);
  const int B = 4, L = 6;
  const auto x = to_s<S>(normal_vec(std::size_t(B) * L * c.d_model, 101));
  const auto dy = to_s<S>(normal_vec(x.size(), 102));
  std::vector<std::uint8_t> pad(B * L, 0);
  pad[L - 1] = pad[2 * L - 1] = pad[2 * L - 2] = 1;
  const RunState run{true, 5, 7};
  Outputs o;
  o.add("y", as_double(layer.forward(x.data(), B, L, pad.data(), run), x.size()));
  o.add("dx", as_double(layer.backward(dy.data()), x.size()));
  for (auto* p : ps) o.add(p->name, as_double(store.grad_host(*p)));
  return o;
}

template <class S>
Outputs run_decoder_layer(bool pre, Activation act) {
  const Config c = mixed_config(pre, act);
  DecoderLayer<S> layer("dec.", c);
  ParamList<S> ps;
  layer.collect(ps);
  ParamStore<S> store(ps);
  randomize(store, 200, 0.2);
  const int B = 3, Lt = 5, Ls = 7;
  const auto x = to_s<S>(normal_vec(std::size_t(B) * Lt * c.d_model, 201));
  const auto mem = to_s<S>(normal_vec(std::size_t(B) * Ls * c.d_model, 202));
  const auto dy = to_s<S>(normal_vec(x.size(), 203));
  std::vector<std::uint8_t> tpad(B * Lt, 0), spad(B * Ls, 0);
  tpad[Lt - 1] = spad[Ls - 1] = spad[Ls - 2] = 1;
  const RunState run{true, 6, 8};
  Outputs o;
  o.add("y", as_double(layer.forward(x.data(), mem.data(), B, Lt, Ls, tpad.data(), spad.data(), run), x.size()));
  o.add("dx", as_double(layer.backward(dy.data()), x.size()));
  o.add("dmem", as_double(layer.dmem(), mem.size()));
  for (auto* p : ps) o.add(p->name, as_double(store.grad_host(*p)));
  return o;
}

template <class S>
Outputs run_model(bool pre, Activation act) {
  const Config c = mixed_config(pre, act);
  Seq2Seq<S> model(c);
  auto ps = model.params();
  randomize(model.store, 300, 0.2);
  Batch b;
  b.B = 3, b.Ls = 6, b.Lt = 5;
  for (int i = 0; i < b.B * b.Ls; ++i) b.src.push_back(1 + (i * 7) % 10);
  for (int i = 0; i < b.B * b.Lt; ++i) b.tgt_in.push_back(1 + (i * 3) % 10), b.tgt_out.push_back(1 + (i * 5) % 10);
  b.src_pad.assign(b.src.size(), 0);
  b.tgt_pad.assign(b.tgt_in.size(), 0);
  b.src[b.Ls - 1] = 0, b.src_pad[b.Ls - 1] = 1;
  b.tgt_out[b.Lt - 1] = 0;
  const RunState run{true, 9, 1};
  Outputs o;
  model.zero_grad();
  o.add("logits", as_double(model.forward(b, run), std::size_t(b.B) * b.Lt * c.vocab));
  o.add("loss", {double(model.loss(0, 0.1))});
  model.backward();
  for (auto* p : ps) o.add(p->name, as_double(model.store.grad_host(*p)));
  return o;
}

// k: roundings along the longest path to the forward outputs and to the gradients.
template <class S>
void compare(const Outputs& got, const Outputs& ref, int k_forward, int k_backward, int k_acc,
             Activation act) {
  const double u = unit_roundoff<S>(), acc = k_acc * std::ldexp(1.0, -24);
  const double kink = act == Activation::relu ? std::sqrt(k_forward * u) : 0.0;
  double worst = 0;
  std::string worst_name;
  for (std::size_t i = 0; i < got.names.size(); ++i) {
    const bool fwd = got.names[i] == "y" || got.names[i] == "logits" || got.names[i] == "loss";
    const double bound = fwd ? k_forward * u + acc : k_backward * u + acc + kink;
    const double err = rel_error(got.values[i], ref.values[i]);
    CAPTURE(got.names[i]);
    CHECK_MESSAGE(err <= bound, got.names[i] << ": relative error " << err << " > bound " << bound);
    if (err / bound > worst) worst = err / bound, worst_name = got.names[i];
  }
  MESSAGE(std::string(precision_name<S>()) << (act == Activation::relu ? " relu" : " gelu") << ": worst error/bound " << worst << " (" << worst_name << ")");
}

}  // namespace

// Encoder layer forward: per path 4 weight copies + qkv, P, P', heads, out_proj, dropout,
// residual, LN1, linear1, relu+dropout, linear2, dropout, residual, LN2 = 18 roundings;
// backward doubles the path (36). K = d_ff = 64.
TEST_CASE_TEMPLATE("mixed: encoder layer post-LN and pre-LN against fp64", S, float, half, bfloat16) {
  for (bool pre : {false, true})
    for (Activation act : {Activation::relu, Activation::gelu}) {
      CAPTURE(pre);
      CAPTURE(int(act));
      compare<S>(run_encoder_layer<S>(pre, act), run_encoder_layer<double>(pre, act), 18, 36, 64, act);
    }
}

// Decoder layer: the encoder's path plus the cross-attention block (8 more): 26 and 52.
TEST_CASE_TEMPLATE("mixed: decoder layer post-LN and pre-LN against fp64", S, float, half, bfloat16) {
  for (bool pre : {false, true})
    for (Activation act : {Activation::relu, Activation::gelu}) {
      CAPTURE(pre);
      CAPTURE(int(act));
      compare<S>(run_decoder_layer<S>(pre, act), run_decoder_layer<double>(pre, act), 26, 52, 64, act);
    }
}

// The whole model: embedding (2) + 2 encoder layers (36) + final LN (1) + 2 decoder layers
// (52) + final LN (1) + generator (2) = 94 forward, 188 backward.
TEST_CASE_TEMPLATE("mixed: the whole encoder-decoder with its loss against fp64", S, float, half, bfloat16) {
  for (bool pre : {false, true})
    for (Activation act : {Activation::relu, Activation::gelu}) {
      CAPTURE(pre);
      CAPTURE(int(act));
      compare<S>(run_model<S>(pre, act), run_model<double>(pre, act), 94, 188, 64, act);
    }
}
