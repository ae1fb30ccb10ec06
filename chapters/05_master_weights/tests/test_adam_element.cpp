// Exercise 05.1: Adam's element update against an independent fp64 transcription of
// PyTorch 1.13's formulas (torch/optim/adam.py, _single_tensor_adam), over 300 steps of Adam and AdamW with and without
// weight decay. Every [ex05.1] case runs every variant (Adam, Adam with L2 decay, AdamW), so a
// slip in one branch fails each case; the cases differ in the gradients: of order 1, and of
// order eps, where v is tiny and eps added after the square root (not inside it) decides the
// step. Each step starts both from the same float state (the reference's state
// rounded to float), so the bound is one step's rounding, derived here with u = 2^-24 (each
// fp32 operation and each constant rounded to float adds at most u relative):
//   g' = g + wd w                    |e_g| <= 2u (|g| + |wd w|)
//   m' = b1 m + (1 - b1) g'          |e_m| <= 4u (|b1 m| + |(1 - b1) g'|) + (1 - b1) |e_g|
//   v' = b2 v + (1 - b2) g'^2        |e_v| <= 5u (|b2 v| + (1 - b2) g'^2) + 2 (1 - b2) |g'| |e_g|
//   d  = sqrt(v') / bc2s + eps       rel(d) <= rel(v') / 2 + 4u
//   D  = step_size m' / d            |e_D| <= step_size |e_m| / d + |D| (rel(d) + 3u)
//   w' = w decay - D                 |e_w| <= |e_D| + 3u |w| + u |w'|
// (first order in u; the test allows twice the sum).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "common/rng.hpp"
#include "kernels/optim/optimizer.hpp"

using namespace halfway;
using namespace halfway::optim;

namespace {

// `scale`: the gradients' size (normal * 2^(-20 U) * scale, U uniform on [0, 1)).
void run(const AdamOptions& o, std::uint64_t seed, double scale = 1.0) {
  const double u = std::ldexp(1.0, -24);
  double w = 0.5, m = 0, v = 0;
  for (std::int64_t t = 1; t <= 300; ++t) {
    const float g = float(scale * rng::normal(seed, std::uint64_t(t)) * std::exp2(-20.0 * rng::uniform(seed + 1, std::uint64_t(t))));
    // the same float state for both
    const float wf = float(w), mf0 = float(m), vf0 = float(v);
    w = wf, m = mf0, v = vf0;
    // fp32, the exercise
    float mf = mf0, vf = vf0;
    const float w32 = adam_element(wf, g, mf, vf, adam_constants(o, o.lr, t));
    // fp64, PyTorch's formulas
    double gd = g, wd_w = 0, wdec = w;
    if (o.weight_decay != 0) {
      if (o.decoupled) wdec = w * (1.0 - o.lr * o.weight_decay);
      else wd_w = o.weight_decay * w, gd += wd_w;
    }
    const double m1 = o.beta1 * m + (1 - o.beta1) * gd;
    const double v1 = o.beta2 * v + (1 - o.beta2) * gd * gd;
    const double bc1 = 1 - std::pow(o.beta1, double(t)), bc2 = 1 - std::pow(o.beta2, double(t));
    const double d = std::sqrt(v1) / std::sqrt(bc2) + o.eps;
    const double D = (o.lr / bc1) * m1 / d;
    const double w1 = wdec - D;
    // the bound
    const double e_g = 2 * u * (std::fabs(g) + std::fabs(wd_w));
    const double e_m = 4 * u * (std::fabs(o.beta1 * m) + std::fabs((1 - o.beta1) * gd)) + (1 - o.beta1) * e_g;
    const double e_v = 5 * u * (o.beta2 * v + (1 - o.beta2) * gd * gd) + 2 * (1 - o.beta2) * std::fabs(gd) * e_g;
    const double rel_d = (v1 > 0 ? e_v / v1 : 0.0) / 2 + 4 * u;
    const double e_D = (o.lr / bc1) * e_m / d + std::fabs(D) * (rel_d + 3 * u);
    const double e_w = e_D + 3 * u * std::fabs(w) + u * std::fabs(w1);
    const std::string what = std::string(o.decoupled ? "AdamW" : "Adam") + " wd " + std::to_string(o.weight_decay);
    REQUIRE_MESSAGE(std::fabs(double(w32) - w1) <= 2 * e_w, what << " step " << t);
    REQUIRE_MESSAGE(std::fabs(double(mf) - m1) <= 2 * e_m, what << " step " << t);
    REQUIRE_MESSAGE(std::fabs(double(vf) - v1) <= 2 * e_v, what << " step " << t);
    w = w1, m = m1, v = v1;
  }
}

// Adam without decay (PyTorch's defaults and a Transformer's), with L2 decay, and AdamW.
std::vector<AdamOptions> variants() {
  AdamOptions adam, transformer, l2, adamw;
  transformer.lr = 5e-4, transformer.beta2 = 0.98, transformer.eps = 1e-9;
  l2.weight_decay = 0.1;
  adamw.weight_decay = 0.01, adamw.decoupled = true, adamw.lr = 1e-2;
  return {adam, transformer, l2, adamw};
}

}  // namespace

TEST_CASE("Adam, Adam with L2 decay, AdamW: 300 steps against fp64 PyTorch formulas [ex05.1]") {
  std::uint64_t seed = 1;
  for (const AdamOptions& o : variants()) run(o, seed++);
}

TEST_CASE("Adam, Adam with L2 decay, AdamW: gradients of order eps, eps after the square root [ex05.1]") {
  // sqrt(v) / bc2_sqrt is then of order eps: sqrt(v / bc2 + eps) would be ~sqrt(eps), a
  // step thousands of times too small. (With L2 decay wd * w dominates the gradient, so
  // that variant checks the decay, not eps.)
  std::uint64_t seed = 11;
  for (const AdamOptions& o : variants()) run(o, seed++, o.eps);
}

TEST_CASE("Adam, Adam with L2 decay, AdamW: first steps by hand [ex05.1]") {
  const std::vector<AdamOptions> v4 = variants();
  const AdamOptions &adam = v4[0], &l2 = v4[2], &adamw = v4[3];
  {  // step 1 with g = eps: m / bc1 = eps and sqrt(v) / bc2_sqrt = eps, so w moves by lr / 2
    float m = 0, v = 0;
    const float w = adam_element(0.5f, float(adam.eps), m, v, adam_constants(adam, adam.lr, 1));
    CHECK(w == doctest::Approx(0.5 - adam.lr / 2).epsilon(1e-6));
  }
  {  // L2, step 1, g = 0: g' = wd * w = 0.05, m = 0.1 * 0.05, and w moves by ~lr * sign(g')
    float m = 0, v = 0;
    const float w = adam_element(0.5f, 0.0f, m, v, adam_constants(l2, l2.lr, 1));
    CHECK(m == doctest::Approx(0.1 * 0.05).epsilon(1e-6));
    CHECK(w == doctest::Approx(0.5 - l2.lr).epsilon(1e-6));
  }
  {  // AdamW, step 1, g = 0: a zero gradient stays zero, only the decay moves the weight
    float m = 0, v = 0;
    const float w = adam_element(2.0f, 0.0f, m, v, adam_constants(adamw, adamw.lr, 1));
    CHECK(m == 0.0f);
    CHECK(v == 0.0f);
    CHECK(w == float(2.0f * float(1.0 - adamw.lr * adamw.weight_decay)));
  }
}

TEST_CASE("AdamW decays the weight before its step and L2 decay enters the gradient: by hand with g != 0 [ex05.1]") {
  {  // AdamW, step 1: m / bc1 = g and sqrt(v) / bc2_sqrt = |g|, so the step is lr g / (|g| + eps)
    // and w' = w (1 - lr wd) - step. lr 0.1 and wd 0.5 make the decay 0.95: decaying after
    // the step instead, (w - step) 0.95, is 0.05 |step| = 0.005 away.
    // The bound, u = 2^-24: the step's fp32 chain (1 - beta1 and 1 - beta2 rounded, g * g,
    // sqrtf, bc2_sqrt rounded, / bc2_sqrt, + eps, m / denom, step_size rounded, its product)
    // stays within 11u relative, w * decay within 2u (decay rounded, the product), the
    // subtraction adds u of the result; the test allows twice the sum. Either order of the
    // update's product and quotient, w - step_size * (m / denom) or w + (-step_size * m) /
    // denom, is inside it.
    AdamOptions o;
    o.lr = 0.1, o.weight_decay = 0.5, o.decoupled = true;
    const double u = 0x1p-24;
    for (float w : {2.0f, -0.75f})
      for (float g : {1.0f, -3.0f, 0.25f}) {
        float m = 0, v = 0;
        const float w1 = adam_element(w, g, m, v, adam_constants(o, o.lr, 1));
        const double step = o.lr * g / (std::fabs(g) + o.eps);
        const double decayed = double(w) * (1.0 - o.lr * o.weight_decay);
        const double want = decayed - step;
        const double bound = 2 * (11 * u * std::fabs(step) + 2 * u * std::fabs(decayed) + u * std::fabs(want));
        CHECK_MESSAGE(std::fabs(double(w1) - want) <= bound, "AdamW w " << w << " g " << g << ": " << w1 << " want " << want);
      }
  }
  {  // Adam with L2 decay, g = -wd * w: g' = g + wd * w is exactly 0 (the same float product),
    // so m and v stay 0 and the weight does not move at all. Decaying the weight itself
    // (AdamW's way) would move it.
    AdamOptions l2;
    l2.lr = 0.1, l2.weight_decay = 0.1;
    const float w = 0.5f, g = -(float(l2.weight_decay) * w);
    float m = 0, v = 0;
    const float w1 = adam_element(w, g, m, v, adam_constants(l2, l2.lr, 1));
    CHECK(m == 0.0f);
    CHECK(v == 0.0f);
    CHECK(w1 == w);
  }
}

TEST_CASE("Adam: constants in double, bad options rejected") {
  AdamOptions o;
  const AdamConstants c = adam_constants(o, 1e-3, 10);
  CHECK(c.step_size == float(1e-3 / (1 - std::pow(0.9, 10))));
  CHECK(c.bc2_sqrt == float(std::sqrt(1 - std::pow(0.999, 10))));
  CHECK_THROWS(adam_constants(o, 1e-3, 0));
  CHECK_THROWS(adam_constants(o, -1.0, 1));
  o.beta1 = 1.0;
  CHECK_THROWS(adam_constants(o, 1e-3, 1));
  o.beta1 = 0.9, o.eps = 0;
  CHECK_THROWS(adam_constants(o, 1e-3, 1));
}
