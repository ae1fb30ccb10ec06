// The fused training step (train_step.hpp's fused_train_step and device_train_step,
// chapter 07's trainer's, with its control on the device: step_log.hpp) on the
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
#if defined(HALFWAY_CH06_EMU)
#include "common/emu/queue.hpp"
#include "common/stream.hpp"
#endif

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

namespace {

ScheduleOptions short_noam() {
  ScheduleOptions s;
  s.kind = ScheduleKind::noam, s.warmup = 3, s.factor = 1.0, s.d_model = 16;
  return s;
}

StepPlan plan_for(const ScheduleOptions& s) {
  StepPlan p;
  p.schedule = s;
  p.adam_options = AdamOptions{};
  p.sr_seed = 1;
  p.collapse_after = 2;
  p.scaling = true;
  return p;
}

}  // namespace

TEST_CASE("device step: the rate and Adam's step come from the device's count with the host schedule's bits") {
  // Six steps, the third overflows: the host path counts the steps taken on the host
  // (Schedule, adam_steps); the device path only on the device (step_log.hpp). The rates,
  // bias corrections and so the weights must be the same bits.
  const float scale = 1000.0f;
  std::vector<float> g = random_grads<float>(3000, 23, -6.0, 1.0);
  for (float& x : g) x *= scale;
  Model<float, float> host_counted(g), device_counted(g);
  amp::DeviceScaler hs(scaler_at(scale)), ds(scaler_at(scale));
  Schedule schedule(short_noam());
  CheckNormWorkspace hws, dws;
  StepLogDevice log;
  log.reset(device(), 0, 0);
  const StepPlan plan = plan_for(short_noam());
  TrainStepOptions o;
  const float inf = INFINITY;
  for (int step = 1; step <= 6; ++step) {
    const float first = step == 3 ? inf : g[0];
    copy_in(device(), host_counted.grads.buf.data(), &first, sizeof first);
    copy_in(device(), device_counted.grads.buf.data(), &first, sizeof first);
    const StepReport r = fused_train_step(
        hs, host_counted.grads.grads(), o, hws,
        [&](double lr, const GradFold& f) { host_counted.adam(lr, host_counted.adam_steps + 1, f); }, schedule);
    if (!r.skipped) ++host_counted.adam_steps;
    device_train_step(ds, device_counted.grads.grads(), o, dws, log, plan,
                      [&](const GradFold& f) { device_counted.adam(0.0, 1, f); });  // the fold's constants win
  }
  const StepLog seen = log.read();
  CHECK(seen.steps == 6);
  CHECK(seen.taken == 5);
  CHECK(seen.taken == schedule.steps());
  CHECK(seen.skipped == 1);
  CHECK(seen.lr == lr_at(short_noam(), 5));  // the last step was the fifth taken
  CHECK(seen.last_skipped == 0u);
  CHECK(seen.skipped_in_row == 0);
  CHECK(seen.max_skipped_in_row == 1);
  CHECK(std::isinf(seen.max_grad_norm));  // the overflow's norm, since the last read
  CHECK(seen.collapse_step == 0);
  CHECK(seen.scale == hs.scale());
  CHECK(same_bits(host_counted.host(host_counted.master), device_counted.host(device_counted.master)));
  CHECK(same_bits(host_counted.host(host_counted.v), device_counted.host(device_counted.v)));
  const StepLog again = log.read();  // the period was cleared after the first read
  CHECK(again.max_skipped_in_row == 0);
  CHECK(again.max_grad_norm == 0.0f);
  CHECK(again.taken == 5);
}

TEST_CASE("device step: the record keeps the step of a collapse and of a divergence") {
  std::vector<float> g(300, 0.5f);
  Model<float, float> model(g);
  amp::DeviceScaler ds(scaler_at(64.0f));
  CheckNormWorkspace ws;
  StepLogDevice log;
  log.reset(device(), 0, 0);
  const StepPlan plan = plan_for(short_noam());  // collapse after 2 skipped steps in a row
  TrainStepOptions o;
  const auto step_with = [&](float first) {
    copy_in(device(), model.grads.buf.data(), &first, sizeof first);
    device_train_step(ds, model.grads.grads(), o, ws, log, plan, [&](const GradFold& f) { model.adam(0.0, 1, f); });
  };
  step_with(0.5f);
  for (int i = 0; i < 3; ++i) step_with(INFINITY);  // steps 2, 3, 4 skipped: the second in a row collapses
  step_with(0.5f);
  StepLog seen = log.read();
  CHECK(seen.collapse_step == 3);
  CHECK(seen.collapse_scale == 16.0f);  // 64 halved twice
  CHECK(seen.max_skipped_in_row == 3);
  CHECK(seen.skipped_in_row == 0);
  CHECK(seen.diverge_step == 0);
  // Without a scaler a NaN norm is refused (error_if_nonfinite) and recorded as a divergence.
  amp::ScalerOptions off;
  off.mode = amp::ScaleMode::off;
  amp::DeviceScaler none(off);
  StepLogDevice log2;
  log2.reset(device(), 0, 0);
  StepPlan unscaled = plan;
  unscaled.scaling = false;
  o.clip_options.error_if_nonfinite = true;
  const float nan = NAN;
  copy_in(device(), model.grads.buf.data(), &nan, sizeof nan);
  const std::vector<float> before = model.host(model.master);
  device_train_step(none, model.grads.grads(), o, ws, log2, unscaled, [&](const GradFold& f) { model.adam(0.0, 1, f); });
  seen = log2.read();
  CHECK(seen.diverge_step == 1);
  CHECK(std::isnan(seen.diverge_norm));
  CHECK(seen.taken == 0);
  CHECK(seen.skipped == 0);  // refused, not skipped by a scaler
  CHECK(same_bits(before, model.host(model.master)));
}

#if defined(HALFWAY_CH06_EMU)
TEST_CASE("device step: a captured step reads nothing back and each replay takes its own rate (emu)") {
  // A step that read the device (a copy to the host, a wait) would break the capture:
  // the emulator refuses a synchronisation of a capturing stream. Replaying one captured
  // step three times must then give the bits of three direct steps, each with its own rate.
  std::vector<float> g = random_grads<float>(2000, 24, -6.0, 1.0);
  Model<float, float> direct(g), replayed(g);
  amp::DeviceScaler ds_direct(scaler_at(1.0f)), ds_replayed(scaler_at(1.0f));
  CheckNormWorkspace ws_direct, ws_replayed;
  StepLogDevice log_direct, log_replayed;
  const StepPlan plan = plan_for(short_noam());
  TrainStepOptions o;
  Stream stream(Backend::emu);
  StreamScope on(stream);
  log_direct.reset(Backend::emu, 0, 0);
  log_replayed.reset(Backend::emu, 0, 0);
  const auto step = [&](Model<float, float>& m, amp::DeviceScaler& ds, CheckNormWorkspace& ws, StepLogDevice& log) {
    device_train_step(ds, m.grads.grads(), o, ws, log, plan, [&](const GradFold& f) { m.adam(0.0, 1, f); });
  };
  for (int i = 0; i < 4; ++i) step(direct, ds_direct, ws_direct, log_direct);
  step(replayed, ds_replayed, ws_replayed, log_replayed);  // the first step uploads and allocates
  auto* s = static_cast<simt::cudaStream_t>(stream.handle());
  REQUIRE(simt::cudaStreamBeginCapture(s, simt::cudaStreamCaptureModeGlobal) == simt::cudaSuccess);
  step(replayed, ds_replayed, ws_replayed, log_replayed);
  simt::cudaGraph_t graph = nullptr;
  REQUIRE(simt::cudaStreamEndCapture(s, &graph) == simt::cudaSuccess);  // nothing broke the capture
  simt::cudaGraphExec_t exec = nullptr;
  REQUIRE(simt::cudaGraphInstantiate(&exec, graph) == simt::cudaSuccess);
  for (int i = 0; i < 3; ++i) REQUIRE(simt::cudaGraphLaunch(exec, s) == simt::cudaSuccess);
  const StepLog a = log_direct.read(), b = log_replayed.read();
  CHECK(b.steps == 4);
  CHECK(b.taken == 4);
  CHECK(b.lr == lr_at(short_noam(), 4));
  CHECK(a.lr == b.lr);
  CHECK(same_bits(direct.host(direct.master), replayed.host(replayed.master)));
  CHECK(same_bits(direct.host(direct.v), replayed.host(replayed.v)));
  simt::cudaGraphExecDestroy(exec);
  simt::cudaGraphDestroy(graph);
}
#endif
