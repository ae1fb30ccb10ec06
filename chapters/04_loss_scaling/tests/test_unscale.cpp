// Unscale-and-check on the test's backend (HALFWAY_TEST_BACKEND: cpu, emu or cuda):
// every gradient multiplied by inv_scale in place, found_inf raised by any inf or NaN
// wherever it sits (first element, last, a middle one, inside the last partial block),
// for fp32 and 16-bit gradients. Exact tests: a power-of-two inv_scale multiplies exactly
// (only exponents change) as long as the result stays normal, so every output must equal
// the host's v * inv_scale bit for bit, the rounding to 16 bits included.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common/testing/test_backend.hpp"
#include "kernels/layers/precision.hpp"
#include "common/device_memory.hpp"
#include "common/rng.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/amp/unscale.hpp"
#include "kernels/layers/scalar.hpp"

using namespace halfway;
using namespace halfway::amp;

// Exercise 04.2 is the kernel's block part: only the device binaries run it (the cpu path
// is a host loop), so only their tests carry its tag.
#if defined(HALFWAY_TEST_ON_CPU)
#define EX42 ""
#else
#define EX42 " [ex04.2]"
#endif

namespace {

Backend device() { return testing::test_backend(); }

// Gradients like a scaled backward's: magnitudes 2^-8 .. 2^22 (fp16: .. 2^15, below its
// largest finite value), random signs.
template <class G>
std::vector<G> gradients(std::int64_t n, std::uint64_t seed) {
  std::vector<G> g(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double u = rng::uniform(seed, std::uint64_t(i));
    const double top = std::is_same_v<G, half> ? 15.0 : 22.0;
    const double e = -8.0 + (top + 8.0) * rng::uniform(seed + 1, std::uint64_t(i));
    g[std::size_t(i)] = layers::st<G>(float((u < 0.5 ? -1.0 : 1.0) * std::exp2(e)));
  }
  return g;
}

// One scaler step on a device copy of `host` (which becomes the device's result).
struct StepResult {
  bool found_inf;   // what unscale() reported
  bool stepped;     // what step() allowed
  float inv_scale;  // the factor the gradients were multiplied by
};
template <class G>
StepResult unscale_on_device(GradScaler& s, std::vector<G>& host) {
  Buf<G> buf;
  G* d = buf.get(host.size(), device());
  copy_in(device(), d, host.data(), host.size() * sizeof(G));
  StepResult r{};
  r.inv_scale = s.inv_scale();
  r.found_inf = s.unscale(GradBuffer{device(), layers::dtype_of<G>(), d, std::int64_t(host.size())});
  copy_out(device(), host.data(), d, host.size() * sizeof(G));
  r.stepped = s.step();
  s.update();
  return r;
}

template <class G>
void check_exact_unscale() {
  // inv_scale 2^-12: the fp32 product is exact; results >= 2^-20 are normal in fp32 and
  // bf16 and may be subnormal in fp16, where they are rounded once to fp16's grid: the
  // expected value rounds the same fp32 product the same way, so the test stays exact.
  ScalerOptions o;
  o.init_scale = 4096.0f;
  for (std::int64_t n : {1, 7, 255, 256, 257, 1000, 65536 + 33}) {
    GradScaler s(o);
    const auto in = gradients<G>(n, 77 + std::uint64_t(n));
    auto out = in;
    const StepResult r = unscale_on_device(s, out);
    CHECK_FALSE(r.found_inf);
    CHECK(r.stepped);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const G want = layers::st<G>(layers::ld(in[i]) * r.inv_scale);
      REQUIRE_MESSAGE(std::memcmp(&out[i], &want, sizeof(G)) == 0, "n " << n << " element " << i);
    }
  }
}

template <class G>
void check_found_inf() {
  const float bad_values[] = {INFINITY, -INFINITY, NAN};
  for (std::int64_t n : {1, 31, 256, 257, 4096 + 129}) {
    // first, last, a middle one, and (when there is one) inside the last partial block
    std::vector<std::int64_t> places{0, n - 1, n / 2};
    if (n > 256 && n % 256) places.push_back(n - n % 256 + (n % 256) / 2);
    for (std::int64_t at : places)
      for (float bad : bad_values) {
        GradScaler s;
        auto g = gradients<G>(n, 5);
        g[std::size_t(at)] = layers::st<G>(bad);
        const StepResult r = unscale_on_device(s, g);
        REQUIRE_MESSAGE(r.found_inf, "n " << n << " at " << at << " value " << bad);
        CHECK_FALSE(r.stepped);
        // every finite gradient was unscaled anyway (PyTorch unscales before deciding)
        const auto in = gradients<G>(n, 5);
        const std::size_t other = at == 0 ? std::size_t(n - 1) : 0;
        if (other != std::size_t(at)) {
          const G want = layers::st<G>(layers::ld(in[other]) * r.inv_scale);
          CHECK(std::memcmp(&g[other], &want, sizeof(G)) == 0);
        }
      }
  }
}

}  // namespace

TEST_CASE("unscale: every gradient times 1/scale, exactly, fp32" EX42) { check_exact_unscale<float>(); }
TEST_CASE("unscale: every gradient times 1/scale, exactly, fp16" EX42) { check_exact_unscale<half>(); }
TEST_CASE("unscale: every gradient times 1/scale, exactly, bf16" EX42) { check_exact_unscale<bfloat16>(); }
TEST_CASE("unscale: one inf or NaN anywhere raises found_inf, fp32" EX42) { check_found_inf<float>(); }
TEST_CASE("unscale: one inf or NaN anywhere raises found_inf, fp16" EX42) { check_found_inf<half>(); }
TEST_CASE("unscale: one inf or NaN anywhere raises found_inf, bf16" EX42) { check_found_inf<bfloat16>(); }

TEST_CASE("unscale: no flag on a clean buffer, on a second step too (the flag is reset)") {
  GradScaler s;
  std::vector<float> g = gradients<float>(300, 9);
  g[7] = NAN;
  CHECK(unscale_on_device(s, g).found_inf);
  std::vector<float> clean = gradients<float>(300, 9);
  CHECK_FALSE(unscale_on_device(s, clean).found_inf);
}
