// The fused training step (train_step.hpp's fused_train_step, chapter 07's trainer) on the
// test's backend: the scaler's words on the device, one read-only check+norm pass, Adam
// folding 1/scale and the clip coefficient. Against the in-place path (train_step with a
// GradScaler): the same bits for fp32 gradients; for fp16 gradients what the in-place
// unscale flushed to zero now reaches Adam.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "helpers.hpp"
#include "kernels/optim/optimizer.hpp"
#include "kernels/optim/train_step.hpp"

using namespace ch06;
using namespace halfway::optim;

namespace {

// Adam over n parameters with working copies S and gradients G, in the test backend's memory.
template <class S, class G>
struct Model {
  std::int64_t n;
  Buf<float> master, m, v;
  Buf<S> working;
  DeviceGrads<G> grads;
  std::int64_t adam_steps = 0;

  explicit Model(const std::vector<G>& g) : n(std::int64_t(g.size())), grads(g) {
    const std::vector<float> w(g.size(), 0.5f), zero(g.size(), 0.0f);
    const std::vector<S> ws(g.size(), layers::st<S>(0.5f));
    copy_in(device(), master.get(g.size(), device()), w.data(), w.size() * sizeof(float));
    copy_in(device(), m.get(g.size(), device()), zero.data(), zero.size() * sizeof(float));
    copy_in(device(), v.get(g.size(), device()), zero.data(), zero.size() * sizeof(float));
    copy_in(device(), working.get(g.size(), device()), ws.data(), ws.size() * sizeof(S));
  }
  // Adam at step t (fold: the fused step's words, or none).
  void adam(double lr, std::int64_t t, const GradFold& fold = {}) {
    const ParamBuffers b{device(), n, master.data(), working.data(), dtype_of<S>(), grads.buf.data(), dtype_of<G>(),
                         m.data(), v.data(), fold};
    adam_step(b, adam_constants(AdamOptions{}, lr, t), MasterMode::master, 1, t);
  }
  std::vector<float> host(const Buf<float>& b) const { return b.host(std::size_t(n)); }
};

ScheduleOptions constant_lr() {
  ScheduleOptions s;
  s.kind = ScheduleKind::constant, s.peak = 1e-3;
  return s;
}

amp::ScalerOptions scaler_at(float scale) {
  amp::ScalerOptions o;
  o.init_scale = scale;
  return o;
}

// One step of each path from the same gradients; returns the reports.
template <class S, class G>
std::pair<StepReport, StepReport> both_paths(Model<S, G>& in_place, Model<S, G>& fused, const TrainStepOptions& o,
                                             amp::GradScaler& gs, amp::DeviceScaler& ds) {
  Schedule s1(constant_lr()), s2(constant_lr());
  NormWorkspace nws;
  CheckNormWorkspace cws;
  const StepReport a = train_step(gs, in_place.grads.grads(), o, nws,
                                  [&](double lr) { in_place.adam(lr, ++in_place.adam_steps); }, s1);
  const StepReport b = fused_train_step(ds, fused.grads.grads(), o, cws,
                                        [&](double lr, const GradFold& f) { fused.adam(lr, fused.adam_steps + 1, f); }, s2);
  if (!b.skipped) ++fused.adam_steps;
  return {a, b};
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

TEST_CASE("fused step: a gradient of 2^-30 stored scaled in fp16 reaches Adam as 2^-30 and not as 0") {
  // At scale 2^16 the backward pass stores 2^-30 as 2^-14 (fp16's smallest normal). The
  // in-place unscale rounds 2^-30 back to fp16, below its smallest subnormal (2^-24): 0.
  const float scale = 0x1p16f;
  const std::vector<half> g(8, layers::st<half>(0x1p-30f * scale));
  Model<half, half> in_place(g), fused(g);
  amp::GradScaler gs(scaler_at(scale));
  amp::DeviceScaler ds(scaler_at(scale));
  TrainStepOptions o;
  const auto [a, b] = both_paths(in_place, fused, o, gs, ds);
  CHECK_FALSE(a.skipped);
  CHECK_FALSE(b.skipped);
  const AdamConstants c = adam_constants(AdamOptions{}, 1e-3, 1);
  // m = 0.9 * 0 + (1 - 0.9) g and v = 0.999 * 0 + (1 - 0.999) g g: products by powers of two, exact.
  const float m_expected = c.one_minus_beta1 * 0x1p-30f;
  const float v_expected = c.one_minus_beta2 * 0x1p-30f * 0x1p-30f;
  for (float m : fused.host(fused.m)) CHECK(m == m_expected);
  for (float v : fused.host(fused.v)) CHECK(v == v_expected);
  for (float m : in_place.host(in_place.m)) CHECK(m == 0.0f);  // the in-place path lost it
  CHECK(b.grad_norm == float(std::sqrt(8.0) * 0x1p-30));       // the norm of what Adam read
  CHECK(a.grad_norm == 0.0f);
}

TEST_CASE("fused step: fp32 gradients give the in-place path's bits") {
  // A scale that is not a power of two (the products round) and clipping that bites.
  const float scale = 1000.0f;
  std::vector<float> g = random_grads<float>(3000, 21, -6.0, 1.0);
  for (float& x : g) x *= scale;
  TrainStepOptions o;
  o.clip_options.max_norm = 0.5f;
  Model<float, float> in_place(g), fused(g);
  amp::GradScaler gs(scaler_at(scale));
  amp::DeviceScaler ds(scaler_at(scale));
  for (int step = 0; step < 3; ++step) {
    const auto [a, b] = both_paths(in_place, fused, o, gs, ds);
    CHECK(std::memcmp(&a.grad_norm, &b.grad_norm, sizeof(float)) == 0);
    CHECK(a.grad_norm > o.clip_options.max_norm);  // the clip coefficient is below 1
    CHECK(a.skipped == b.skipped);
    CHECK(gs.scale() == ds.scale());
    in_place.grads = DeviceGrads<float>(g);  // the in-place path rewrote its gradients
  }
  CHECK(same_bits(in_place.host(in_place.master), fused.host(fused.master)));
  CHECK(same_bits(in_place.host(in_place.m), fused.host(fused.m)));
  CHECK(same_bits(in_place.host(in_place.v), fused.host(fused.v)));
  CHECK(same_bits(fused.grads.host(), g));  // never rewritten
}

TEST_CASE("fused step: fp16 weights with fp32 gradients give the in-place path's bits") {
  const float scale = 0x1p16f;
  std::vector<float> g = random_grads<float>(2000, 22, -9.0, 0.0);
  for (float& x : g) x *= scale;
  TrainStepOptions o;
  Model<half, float> in_place(g), fused(g);
  amp::GradScaler gs(scaler_at(scale));
  amp::DeviceScaler ds(scaler_at(scale));
  const auto [a, b] = both_paths(in_place, fused, o, gs, ds);
  CHECK(a.grad_norm == b.grad_norm);
  CHECK(same_bits(in_place.host(in_place.master), fused.host(fused.master)));
  CHECK(same_bits(in_place.working.host(2000), fused.working.host(2000)));
}

TEST_CASE("fused step: an overflow skips Adam on the device and backs the scale off") {
  const float scale = 1024.0f;
  std::vector<half> g(600, layers::st<half>(0.25f));
  g[517] = layers::st<half>(INFINITY);
  Model<half, half> fused(g);
  amp::DeviceScaler ds(scaler_at(scale));
  Schedule schedule(constant_lr());
  CheckNormWorkspace ws;
  TrainStepOptions o;
  int calls = 0;
  const auto adam = [&](double lr, const GradFold& f) {
    ++calls;
    fused.adam(lr, fused.adam_steps + 1, f);
  };
  const StepReport r = fused_train_step(ds, fused.grads.grads(), o, ws, adam, schedule);
  CHECK(r.found_inf);
  CHECK(r.skipped);
  CHECK(std::isinf(r.grad_norm));
  CHECK(calls == 1);  // called: the kernel itself read the skip word
  for (float w : fused.host(fused.master)) CHECK(w == 0.5f);
  for (float m : fused.host(fused.m)) CHECK(m == 0.0f);
  CHECK(ds.scale() == 512.0f);
  CHECK(schedule.steps() == 0);
  // found_inf was reset on the device: a clean step is taken.
  fused.grads = DeviceGrads<half>(std::vector<half>(600, layers::st<half>(0.25f)));
  const StepReport clean = fused_train_step(ds, fused.grads.grads(), o, ws, adam, schedule);
  CHECK_FALSE(clean.found_inf);
  CHECK_FALSE(clean.skipped);
  CHECK(fused.host(fused.master)[0] < 0.5f);
  CHECK(schedule.steps() == 1);
  CHECK(ds.state().growth_tracker == 1);
}

TEST_CASE("fused step: without a scaler a non-finite norm is refused before any write") {
  amp::ScalerOptions off;
  off.mode = amp::ScaleMode::off;
  amp::DeviceScaler ds(off);
  std::vector<float> g(300, 0.5f);
  g[3] = NAN;
  Model<float, float> fused(g);
  Schedule schedule(constant_lr());
  CheckNormWorkspace ws;
  TrainStepOptions o;
  o.clip_options.error_if_nonfinite = true;
  CHECK_THROWS_AS(fused_train_step(ds, fused.grads.grads(), o, ws,
                                   [&](double lr, const GradFold& f) { fused.adam(lr, 1, f); }, schedule),
                  Error);
  for (float w : fused.host(fused.master)) CHECK(w == 0.5f);
  CHECK(std::isnan(fused.grads.host()[3]));  // left as they were
  CHECK(schedule.steps() == 0);
}

TEST_CASE("device scaler: the rule on the device follows GradScaler's step by step") {
  amp::ScalerOptions o;
  o.init_scale = 256.0f;
  o.rule.growth_interval = 3;
  o.rule.hysteresis = 2;
  amp::GradScaler host(o);
  amp::DeviceScaler dev(o);
  // One gradient per step, inf where the pattern says so.
  const char* pattern = "..x.xx...x..x.x.x....xxx..";
  std::vector<float> g(1);
  amp::GradBuffer buf{device(), DType::f32, nullptr, 1};
  DeviceGrads<float> d(g);
  CheckNormWorkspace ws;
  for (const char* p = pattern; *p; ++p) {
    const float x = *p == 'x' ? INFINITY : 1.0f;
    copy_in(device(), d.buf.data(), &x, sizeof x);
    buf.data = d.buf.data();
    std::vector<float> hg{x};
    host.unscale({Backend::cpu, DType::f32, hg.data(), 1});
    host.step();
    host.update();
    check_and_norm(buf, dev.words(device()), StepRule{}, ws);
    dev.update();
    CHECK(dev.scale() == host.scale());
    CHECK(dev.state().growth_tracker == host.state().growth_tracker);
    CHECK(dev.state().hysteresis_left == host.state().hysteresis_left);
  }
  CHECK(host.scale() != 256.0f);  // the pattern moved the scale
}
