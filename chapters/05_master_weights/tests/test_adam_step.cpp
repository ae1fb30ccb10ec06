// The fused Adam step over flat buffers on the test's backend (cpu, emu or cuda): the
// device's bits equal the cpu loop's (the same element code; the gpu build has no fused
// multiply-add), in every master-weight mode, with fp32 and 16-bit gradients; stochastic
// rounding is reproducible from (seed, step) and differs between steps; a small update is
// lost without masters and kept with them.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "common/testing/test_backend.hpp"
#include "kernels/layers/precision.hpp"
#include "common/device_memory.hpp"
#include "common/rng.hpp"
#include "kernels/layers/scalar.hpp"
#include "kernels/optim/optimizer.hpp"

using namespace halfway;
using namespace halfway::optim;

namespace {

Backend device() { return testing::test_backend(); }

// A parameter set in some backend's memory: masters, working copies S, gradients G, moments.
template <class S, class G>
struct Params {
  Backend where;
  std::int64_t n;
  Buf<float> master, m, v;
  Buf<S> working;
  Buf<G> grad;
  Params(Backend b, std::int64_t count) : where(b), n(count) {
    const auto count_n = static_cast<std::size_t>(n);
    std::vector<float> w(count_n), zeros(count_n, 0.0f);
    std::vector<S> ws(count_n);
    for (std::int64_t i = 0; i < n; ++i) {
      w[std::size_t(i)] = float(0.1 * rng::normal(5, std::uint64_t(i)));
      ws[std::size_t(i)] = layers::st<S>(w[std::size_t(i)]);
    }
    copy_in(b, master.get(std::size_t(n), b), w.data(), w.size() * 4);
    copy_in(b, m.get(std::size_t(n), b), zeros.data(), zeros.size() * 4);
    copy_in(b, v.get(std::size_t(n), b), zeros.data(), zeros.size() * 4);
    if constexpr (!std::is_same_v<S, float>) copy_in(b, working.get(std::size_t(n), b), ws.data(), ws.size() * sizeof(S));
    grad.get(std::size_t(n), b);
  }
  void set_grads(std::uint64_t step) {
    std::vector<G> g(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
      g[std::size_t(i)] = layers::st<G>(float(1e-3 * rng::normal(700 + step, std::uint64_t(i))));
    copy_in(where, grad.data(), g.data(), g.size() * sizeof(G));
  }
  ParamBuffers buffers() {
    ParamBuffers b;
    b.backend = where, b.count = n, b.master = master.data();
    b.working = std::is_same_v<S, float> ? static_cast<void*>(master.data()) : static_cast<void*>(working.data());
    b.working_type = layers::dtype_of<S>(), b.grad = grad.data(), b.grad_type = layers::dtype_of<G>();
    b.m = m.data(), b.v = v.data();
    return b;
  }
  // Every buffer's bytes, for bit-for-bit comparison.
  std::vector<unsigned char> bytes() const {
    std::vector<unsigned char> out;
    auto add = [&](const auto& buf, std::size_t elems, std::size_t size) {
      if (!buf.data()) return;
      std::vector<unsigned char> b(elems * size);
      copy_out(where, b.data(), buf.data(), b.size());
      out.insert(out.end(), b.begin(), b.end());
    };
    add(master, std::size_t(n), 4);
    add(m, std::size_t(n), 4);
    add(v, std::size_t(n), 4);
    if constexpr (!std::is_same_v<S, float>) add(working, std::size_t(n), sizeof(S));
    return out;
  }
};

template <class S, class G>
void device_equals_cpu(MasterMode mode, bool adamw) {
  const std::int64_t n = 3000 + 17;
  Params<S, G> cpu(Backend::cpu, n), dev(device(), n);
  AdamOptions o;
  o.lr = 1e-3, o.beta2 = 0.98, o.eps = 1e-9, o.weight_decay = adamw ? 0.01 : 0.001, o.decoupled = adamw;
  for (std::int64_t t = 1; t <= 5; ++t) {
    cpu.set_grads(std::uint64_t(t));
    dev.set_grads(std::uint64_t(t));
    const AdamConstants c = adam_constants(o, o.lr, t);
    adam_step(cpu.buffers(), c, mode, 42, t);
    adam_step(dev.buffers(), c, mode, 42, t);
    REQUIRE_MESSAGE(cpu.bytes() == dev.bytes(), "step " << t << " mode " << to_string(mode));
  }
}

}  // namespace

TEST_CASE("Adam step: the device equals the cpu bit for bit, fp32") {
  device_equals_cpu<float, float>(MasterMode::master, false);
  device_equals_cpu<float, float>(MasterMode::master, true);
}
TEST_CASE("Adam step: the device equals the cpu bit for bit, fp16 and bf16, every mode and gradient type") {
  for (MasterMode mode : {MasterMode::master, MasterMode::none, MasterMode::stochastic}) {
    device_equals_cpu<half, float>(mode, false);
    device_equals_cpu<half, half>(mode, true);
    device_equals_cpu<bfloat16, float>(mode, true);
    device_equals_cpu<bfloat16, bfloat16>(mode, false);
  }
}

TEST_CASE("Adam step: stochastic rounding is reproducible from the seed and the step, and differs between steps") {
  const std::int64_t n = 2048;
  Params<bfloat16, float> a(device(), n), b(device(), n), c(device(), n);
  AdamOptions o;
  for (auto* p : {&a, &b, &c}) p->set_grads(1);
  const AdamConstants k = adam_constants(o, o.lr, 1);
  adam_step(a.buffers(), k, MasterMode::stochastic, 7, 1);
  adam_step(b.buffers(), k, MasterMode::stochastic, 7, 1);
  adam_step(c.buffers(), k, MasterMode::stochastic, 7, 2);  // same update, another step's words
  CHECK(a.bytes() == b.bytes());
  CHECK(a.bytes() != c.bytes());
}

TEST_CASE("Adam step: an update below half an ulp is lost without masters, kept with them") {
  // 4096 weights w = 1 in bf16 (ulp 2^-7 = 0.0078 above 1) under a constant gradient: Adam
  // moves each by lr = 1e-4 a step (m / sqrt(v) is exactly 1 after bias correction), 100
  // steps: +0.01 in exact arithmetic.
  const std::int64_t n = 4096;
  auto run = [&](MasterMode mode) {
    Params<bfloat16, float> p(device(), n);
    const std::vector<float> ones(static_cast<std::size_t>(n), 1.0f), grads(static_cast<std::size_t>(n), -1.0f);
    const std::vector<bfloat16> ones16(static_cast<std::size_t>(n), layers::st<bfloat16>(1.0f));
    copy_in(device(), p.master.data(), ones.data(), ones.size() * 4);
    copy_in(device(), p.working.data(), ones16.data(), ones16.size() * 2);
    AdamOptions o;
    o.lr = 1e-4;
    for (std::int64_t t = 1; t <= 100; ++t) {
      copy_in(device(), p.grad.data(), grads.data(), grads.size() * 4);
      adam_step(p.buffers(), adam_constants(o, o.lr, t), mode, 3, t);
    }
    std::vector<bfloat16> w(static_cast<std::size_t>(n));
    copy_out(device(), w.data(), p.working.data(), w.size() * 2);
    double mean = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (bfloat16 x : w) mean += double(float(x)) / double(n), lo = std::min(lo, float(x)), hi = std::max(hi, float(x));
    return std::tuple{mean, lo, hi};
  };
  // Without masters every step rounds 1 + 1e-4 back to 1.
  const auto [none_mean, none_lo, none_hi] = run(MasterMode::none);
  CHECK(none_lo == 1.0f);
  CHECK(none_hi == 1.0f);
  // With masters the fp32 master reaches ~1.01, whose nearest bf16 is 1 + 2^-7.
  const auto [master_mean, master_lo, master_hi] = run(MasterMode::master);
  CHECK(master_lo == 1.0f + 0x1p-7f);
  CHECK(master_hi == 1.0f + 0x1p-7f);
  // Stochastic rounding is unbiased: each weight is a martingale whose increments add up
  // to the exact 0.01 (the updates do not depend on w), so the mean over 4096 weights is
  // 1.01 up to sampling noise: per weight the variance is at most 100 (2^-7)^2 / 4, so the
  // mean's standard deviation is at most 5 * 2^-7 / 64 = 6.1e-4; allow 6 of them.
  const auto [sr_mean, sr_lo, sr_hi] = run(MasterMode::stochastic);
  CHECK(std::fabs(sr_mean - 1.01) <= 6 * 6.1e-4);
  CHECK(sr_lo < sr_hi);  // the weights went different ways
}

TEST_CASE("Adam step: bad buffers and modes are one clear error") {
  Params<float, float> p(device(), 8);
  ParamBuffers b = p.buffers();
  const AdamConstants c = adam_constants(AdamOptions{}, 1e-3, 1);
  CHECK_THROWS_WITH(adam_step(b, c, MasterMode::none, 0, 1), doctest::Contains("mode 'master' for fp32 weights"));
  b.m = nullptr;
  CHECK_THROWS_WITH(adam_step(b, c, MasterMode::master, 0, 1), doctest::Contains("ensure_moments()"));
  CHECK_THROWS_WITH(parse_master_mode("maybe"), doctest::Contains("expected a master-weight mode"));
}

TEST_CASE("SGD step: w - lr g on the device equals the cpu, and leaves the moments alone") {
  const std::int64_t n = 1000;
  Params<half, float> cpu(Backend::cpu, n), dev(device(), n);
  cpu.set_grads(9);
  dev.set_grads(9);
  const std::vector<float> before = [&] {
    std::vector<float> w(static_cast<std::size_t>(n));
    copy_out(Backend::cpu, w.data(), cpu.master.data(), w.size() * 4);
    return w;
  }();
  for (MasterMode mode : {MasterMode::master, MasterMode::none, MasterMode::stochastic}) {
    sgd_step(cpu.buffers(), 0.5f, mode, 1, 1);
    sgd_step(dev.buffers(), 0.5f, mode, 1, 1);
    REQUIRE(cpu.bytes() == dev.bytes());
  }
  // the first (master) step by hand: w - 0.5 g in fp32, element 17
  std::vector<float> g(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) g[std::size_t(i)] = float(1e-3 * rng::normal(709, std::uint64_t(i)));
  Params<half, float> fresh(Backend::cpu, n);
  fresh.set_grads(9);
  sgd_step(fresh.buffers(), 0.5f, MasterMode::master, 1, 1);
  float w17;
  copy_out(Backend::cpu, &w17, fresh.master.data() + 17, 4);
  CHECK(w17 == before[17] - 0.5f * g[17]);
  std::vector<float> m(static_cast<std::size_t>(n));
  copy_out(Backend::cpu, m.data(), fresh.m.data(), m.size() * 4);
  for (float x : m) REQUIRE(x == 0.0f);
}
