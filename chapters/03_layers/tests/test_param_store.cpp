// The parameter store (kernels/layers/param_store.hpp) on the cpu and on the emulator: the
// views' offsets, alignment and order, where the buffers live, one launch per whole-model
// operation (the emulator's launch counter), host copies only on request, exact zeroing
// and rounding, the errors of misuse, and no allocation after the first training step.
//
// Every check here is exact: offsets and counts are integers, zero is zero, and rounding a
// master into its working copy must give the bits of st<S> (round to nearest even).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/emu/runtime.hpp"
#include "kernels/layers/transformer.hpp"
#include "chapters/03_layers/tests/small_model.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

Config tiny_config() {
  Config c;
  c.vocab = 7, c.d_model = 16, c.heads = 2, c.d_ff = 24, c.encoder_layers = 1, c.decoder_layers = 1;
  c.dropout = 0.1f;
  return c;
}

Batch tiny_batch() { return ch03test::small_batch(); }

unsigned long long launches() { return simt::emu_counters().launches; }

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Masters that exercise rounding: ties to even, values past fp16's range, subnormals,
// signed zero, and a spread of ordinary values.
std::vector<float> hard_values(std::size_t n) {
  const float specials[] = {1.0f + 0x1p-11f,  1.0f + 3 * 0x1p-11f, 65504.0f, 65519.0f, 65520.0f, -70000.0f,
                            0x1p-24f,         0x1p-25f,            3e-39f,   -0.0f,    1.0f + 0x1p-8f, 3.0f + 0x1p-7f};
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = i < std::size(specials) ? specials[i] : float(rng::normal(5, i)) * 3.0f;
  return v;
}

}  // namespace

TEST_CASE_TEMPLATE("param store: views in params() order at aligned offsets inside the buffers", S, float, half, bfloat16) {
  for (Backend b : {Backend::cpu, Backend::emu}) {
    CAPTURE(to_string(b));
    BackendScope scope(b);
    Seq2Seq<S> model(tiny_config());
    ParamStore<S>& store = model.store;
    const auto ps = model.params();
    REQUIRE(store.params().size() == ps.size());
    REQUIRE(store.backend() == b);
    std::int64_t expect = 0, count = 0;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      const Param<S>& p = *store.params()[i];
      CAPTURE(p.name);
      CHECK(&p == ps[i]);
      CHECK(p.name == ps[i]->name);
      CHECK(p.store == &store);
      // Each view starts at the first multiple of 128 elements after the previous one.
      CHECK(p.offset == expect);
      CHECK(p.offset % ParamStore<S>::kAlign == 0);
      expect = p.offset + (p.numel() + 127) / 128 * 128;
      count += p.numel();
      // w() and g() point into the store's buffers at the offset, 256-byte aligned.
      CHECK(p.w() == store.working() + p.offset);
      CHECK(p.g() == store.grads() + p.offset);
      CHECK(reinterpret_cast<std::uintptr_t>(p.w()) % 256 == 0);
      CHECK(reinterpret_cast<std::uintptr_t>(p.g()) % 256 == 0);
      CHECK(p.offset + p.numel() <= store.size());
    }
    CHECK(store.size() == expect);
    CHECK(store.count() == count);
    CHECK(ps.front()->name == "embedding.weight");
    CHECK(ps.back()->name == "generator.bias");
    // The buffers are the store's allocations of exactly size() elements (the working copy
    // is the master buffer itself in fp32).
    const StoreBytes bytes = store.bytes();
    CHECK(bytes.masters == std::size_t(store.size()) * sizeof(float));
    CHECK(bytes.grads == std::size_t(store.size()) * sizeof(float));
    CHECK(bytes.working == (std::is_same_v<S, float> ? 0 : std::size_t(store.size()) * sizeof(S)));
    CHECK(bytes.moments == 0);
    if constexpr (std::is_same_v<S, float>) CHECK(static_cast<const void*>(store.working()) == store.masters());
  }
}

TEST_CASE_TEMPLATE("param store: one launch per whole-model operation on emu", S, float, half, bfloat16) {
  BackendScope scope(Backend::emu);
  Seq2Seq<S> model(tiny_config());
  auto count = [](auto&& op) {
    const auto before = launches();
    op();
    return launches() - before;
  };
  CHECK(count([&] { model.zero_grad(); }) == 1);
  CHECK(count([&] { model.store.zero_grads(); }) == 1);
  // fp32: the working copy is the master, nothing to round.
  CHECK(count([&] { model.sync(); }) == (std::is_same_v<S, float> ? 0u : 1u));
  CHECK(!model.store.has_moments());
  CHECK(count([&] { model.store.ensure_moments(); }) == 2);  // allocated and zeroed once
  CHECK(count([&] { model.store.ensure_moments(); }) == 0);
  CHECK(model.store.bytes().moments == 2 * std::size_t(model.store.size()) * sizeof(float));
  const auto m = model.store.masters_host();  // a host copy is a copy, not a kernel
  CHECK(count([&] { (void)model.store.grads_host(); }) == 0);
  CHECK(m.size() == std::size_t(model.store.size()));
}

TEST_CASE_TEMPLATE("param store: round to the working copy gives st<S> bit for bit", S, half, bfloat16) {
  for (Backend b : {Backend::cpu, Backend::emu}) {
    CAPTURE(to_string(b));
    BackendScope scope(b);
    Seq2Seq<S> model(tiny_config());
    ParamStore<S>& store = model.store;
    std::vector<float> m = hard_values(std::size_t(store.size()));
    for (std::int64_t i = 0; i < store.size(); ++i) {  // keep the padding zero, as the store does
      bool inside = false;
      for (auto* p : store.params()) inside |= i >= p->offset && i < p->offset + p->numel();
      if (!inside) m[std::size_t(i)] = 0.0f;
    }
    store.set_masters(m);
    // Host copies only on request: uploading the masters leaves the working copies alone.
    const Param<S>& first = *store.params().front();
    for (S w : store.working_host(first)) CHECK(same_bits(w, st<S>(0.0f)));
    model.sync();
    for (auto* p : store.params()) {
      CAPTURE(p->name);
      const std::vector<S> w = store.working_host(*p);
      const std::vector<float> back = store.master_host(*p);
      for (std::int64_t i = 0; i < p->numel(); ++i) {
        const float x = m[std::size_t(p->offset + i)];
        REQUIRE(same_bits(back[std::size_t(i)], x));
        REQUIRE(same_bits(w[std::size_t(i)], st<S>(x)));
      }
    }
    // The specials, spelled out for fp16: ties to even, 65520 -> inf, 2^-25 -> +0.
    if constexpr (std::is_same_v<S, half>) {
      const std::vector<S> w = store.working_host(first);
      CHECK(float(w[0]) == 1.0f);
      CHECK(float(w[1]) == 1.0f + 4 * 0x1p-11f);
      CHECK(float(w[3]) == 65504.0f);
      CHECK(std::isinf(float(w[4])));
      CHECK(float(w[6]) == 0x1p-24f);
      CHECK(float(w[7]) == 0.0f);
    }
    // set_value: one element, master and working copy at once.
    store.set_value(first, 2, 1.0f + 0x1p-11f);
    CHECK(store.master_host(first)[2] == 1.0f + 0x1p-11f);
    CHECK(same_bits(store.working_host(first)[2], st<S>(1.0f + 0x1p-11f)));
  }
}

TEST_CASE_TEMPLATE("param store: zero_grad clears every gradient exactly after a backward", S, float, half) {
  for (Backend b : {Backend::cpu, Backend::emu}) {
    CAPTURE(to_string(b));
    BackendScope scope(b);
    Seq2Seq<S> model(tiny_config());
    model.init(1);
    const Batch batch = tiny_batch();
    model.forward(batch, RunState{true, 3, 1});
    model.loss(0);
    model.backward();
    std::int64_t nonzero = 0;
    for (float g : model.store.grads_host()) nonzero += g != 0.0f;
    CHECK(nonzero > model.store.count() / 2);  // the backward did write the gradients
    model.zero_grad();
    const std::vector<float> g = model.store.grads_host();  // the padding too
    for (float x : g) REQUIRE(same_bits(x, 0.0f));
  }
}

TEST_CASE_TEMPLATE("16-bit gradients are the fp32 gradients rounded once to S", S, half, bfloat16) {
  // One backward from zero: every gradient element receives one contribution in fp32 (a
  // GEMM's sum, a column sum, LayerNorm's row sums, the embedding's two tables' sums in one
  // fp32 scratch), so kept in S it must be exactly st<S> of the fp32 run's value: the same
  // sums, rounded once, whatever the backend. The forward passes are identical.
  for (Backend b : {Backend::cpu, Backend::emu}) {
    for (bool pre : {false, true}) {
      CAPTURE(to_string(b));
      CAPTURE(pre);
      BackendScope scope(b);
      Config c = tiny_config();
      c.pre_ln = pre;
      Seq2Seq<S> f32(c), s16(c, GradType::storage);
      REQUIRE(f32.store.grad_type() == GradType::fp32);
      REQUIRE(s16.store.grad_type() == GradType::storage);
      CHECK(s16.store.grads() == nullptr);
      CHECK(s16.store.bytes().grads == std::size_t(s16.store.size()) * sizeof(S));
      const Batch batch = tiny_batch();
      for (Seq2Seq<S>* m : {&f32, &s16}) {
        m->init(4);
        m->zero_grad();
        m->forward(batch, RunState{true, 5, 2});
        m->loss(0, 0.1f);
        m->backward();
      }
      const std::vector<float> g32 = f32.store.grads_host(), g16 = s16.store.grads_host();
      REQUIRE(g32.size() == g16.size());
      std::size_t nonzero = 0;
      for (std::size_t i = 0; i < g32.size(); ++i) {
        CAPTURE(i);
        REQUIRE(same_bits(g16[i], float(st<S>(g32[i]))));
        nonzero += g16[i] != 0.0f;
      }
      CHECK(nonzero > g16.size() / 2);
      // A second backward without zeroing (gradient accumulation) adds its fp32 sums a2 to
      // the stored S values: st<S>(ld(g) + a2), the GEMM's epilogue with beta = 1 and the
      // fp32 partials' alike (K = 6 rows here: one block of the GEMM's sum, no reordering).
      f32.zero_grad();
      for (Seq2Seq<S>* m : {&f32, &s16}) {
        m->forward(batch, RunState{true, 5, 3});
        m->loss(0, 0.1f);
        m->backward();
      }
      const std::vector<float> a2 = f32.store.grads_host(), acc16 = s16.store.grads_host();
      for (std::size_t i = 0; i < a2.size(); ++i) {
        CAPTURE(i);
        REQUIRE(same_bits(acc16[i], float(st<S>(ld(st<S>(g32[i])) + a2[i]))));
      }
      CHECK_THROWS_AS((void)s16.embedding.g(), Error);  // no fp32 pointer to give
      s16.zero_grad();
      for (float x : s16.store.grads_host()) REQUIRE(same_bits(x, 0.0f));
    }
  }
}

TEST_CASE("param store: a 16-bit store without masters keeps the working copies only") {
  for (const Backend b : {Backend::cpu, Backend::emu}) {
    CAPTURE(to_string(b));
    BackendScope scope(b);
    Linear<half> with_l("lin.", 5, 3), none_l("lin.", 5, 3);
    ParamList<half> pw, pn;
    with_l.collect(pw);
    none_l.collect(pn);
    ParamStore<half> with(pw), none(pn, GradType::fp32, Masters::none);
    CHECK(with.has_masters());
    CHECK_FALSE(none.has_masters());
    CHECK(none.bytes().masters == 0);
    CHECK(none.masters() == nullptr);
    CHECK(none.bytes().working == with.bytes().working);
    CHECK(none.bytes().total() + with.bytes().masters == with.bytes().total());
    // The same weights set both ways: the working copies are the masters' rounding, bit for bit.
    std::vector<float> v(std::size_t(with.size()), 0.0f);
    for (std::int64_t i = 0; i < 15; ++i) v[std::size_t(i)] = 1.0f + float(i) * 0x1p-13f;  // most not fp16 values
    with.set_weights(v);
    none.set_weights(v);
    const auto a = with.working_host(with_l.weight), c = none.working_host(none_l.weight);
    CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(half)) == 0);
    const auto widened = none.weights_host();
    for (std::int64_t i = 0; i < 15; ++i) CHECK(widened[std::size_t(i)] == ld(st<half>(v[std::size_t(i)])));
    none.round_to_working();  // nothing to round from: the working copies stay
    const auto again = none.working_host(none_l.weight);
    CHECK(std::memcmp(again.data(), c.data(), c.size() * sizeof(half)) == 0);
    CHECK_THROWS_AS((void)none.masters_host(), Error);
    CHECK_THROWS_AS(none.set_masters(v), Error);
    CHECK_THROWS_AS(with.set_working(std::vector<half>(std::size_t(with.size()))), Error);  // derived from masters there
  }
}

TEST_CASE("param store: misuse is a clear Error") {
  Linear<float> lin("lin.", 4, 3);
  CHECK_THROWS_AS((void)lin.weight.w(), Error);  // in no store yet
  ParamList<float> ps;
  lin.collect(ps);
  ParamStore<float> store(ps);
  CHECK_THROWS_AS(store.build(ps), Error);  // a second build
  ParamStore<float> other;
  CHECK_THROWS_AS(other.build(ps), Error);  // a parameter in two stores
  CHECK_THROWS_AS(store.set_master(lin.bias, {1.0f, 2.0f}), Error);  // 2 values for 3
  {
    BackendScope scope(Backend::emu);
    CHECK_THROWS_AS((void)lin.weight.w(), Error);  // built on the cpu, used on emu
  }
  CHECK(lin.weight.w() == store.working());
}

TEST_CASE_TEMPLATE("no allocation after the first training step [alloc]", S, float, half) {
  for (GradType grads : {GradType::fp32, GradType::storage}) {
  CAPTURE(int(grads));
  // Steps 1-5 of a small model: zero the gradients, forward, loss, backward, round the
  // masters (an optimizer's step would sit between backward and the rounding). The first
  // step allocates every buffer; steps 2-5 must reuse them: no Buf growth on any backend,
  // no cudaMalloc inside the emulated runtime.
  for (Backend b : {Backend::cpu, Backend::emu}) {
    CAPTURE(to_string(b));
    BackendScope scope(b);
    Seq2Seq<S> model(tiny_config(), grads);
    model.init(2);
    const Batch batch = tiny_batch();
    const unsigned long long before = allocation_count(b);
    unsigned long long bufs = 0, mallocs = 0;
    for (std::uint64_t step = 1; step <= 5; ++step) {
      if (step == 2) {
        CHECK(allocation_count(b) > before);  // the counter sees the first step's buffers
        bufs = allocation_count(b), mallocs = simt::emu_counters().device_allocations;
      }
      model.zero_grad();
      model.forward(batch, RunState{true, 9, step});
      CHECK(std::isfinite(double(model.loss(0, 0.1f))));
      model.backward();
      model.sync();
    }
    CHECK(allocation_count(b) - bufs == 0);
    CHECK(simt::emu_counters().device_allocations - mallocs == 0);
  }
  }
}
