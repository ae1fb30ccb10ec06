// Unscale-and-check on the test's backend (HALFWAY_TEST_BACKEND: cpu, emu or cuda):
// every gradient multiplied by inv_scale in place, found_inf raised by any inf or NaN
// wherever it sits (first element, last, a middle one, inside the last partial block),
// for fp32 and 16-bit gradients. Exact tests: a power-of-two inv_scale multiplies exactly
// (only exponents change) as long as the result stays normal, so every output must equal
// the host's v * inv_scale bit for bit, the rounding to 16 bits included; so must it for
// scales that are not powers of two, and for buffers larger than the launched grid.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <utility>
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

// A scale that is not a power of two (1000, 3, 12345.5): g * inv_scale then rounds, and
// only the fp32 product itself, rounded once to G, gives the expected bits. Dividing by the
// scale, or by 1 / inv_scale, differs from it in the last bit for many of the elements.
template <class G>
void check_any_scale() {
  for (float scale : {1000.0f, 3.0f, 12345.5f}) {
    ScalerOptions o;
    o.init_scale = scale;
    GradScaler s(o);
    const std::int64_t n = 4096 + 129;
    const auto in = gradients<G>(n, 41);
    auto out = in;
    const StepResult r = unscale_on_device(s, out);
    CHECK_FALSE(r.found_inf);
    REQUIRE(r.inv_scale == float(1.0 / double(scale)));
    for (std::size_t i = 0; i < in.size(); ++i) {
      const G want = layers::st<G>(layers::ld(in[i]) * r.inv_scale);
      REQUIRE_MESSAGE(std::memcmp(&out[i], &want, sizeof(G)) == 0, "scale " << scale << " element " << i);
    }
  }
}

// More gradients than the launched grid has threads: the launch caps its grid
// (kernels/amp/unscale.cu: 1024 blocks of 256 threads), and the course model has 2.51M
// gradients. So a thread walks many elements (grid-stride), and must unscale and check
// each one, not only its first. n is past a 4096-block grid too (1M threads), and the one
// non-finite value sits only in the far tail, where no thread's first element is.
constexpr std::int64_t kBeyondGrid = 5 * (std::int64_t(1) << 19) + 77;  // 2.62M

template <class G>
void check_beyond_the_grid() {
  const std::int64_t n = kBeyondGrid;
  const auto in = gradients<G>(n, 303);
  {
    GradScaler s;
    auto out = in;
    const StepResult r = unscale_on_device(s, out);
    CHECK_FALSE(r.found_inf);
    std::int64_t wrong = 0, first_wrong = -1;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const G want = layers::st<G>(layers::ld(in[i]) * r.inv_scale);
      if (std::memcmp(&out[i], &want, sizeof(G)) != 0 && wrong++ == 0) first_wrong = std::int64_t(i);
    }
    // REQUIRE: a kernel that gets this wrong may be slow too (one that strides by a block
    // does the whole buffer once per block), so it is not launched again.
    REQUIRE_MESSAGE(wrong == 0, wrong << " of " << n << " gradients not unscaled, the first at " << first_wrong);
  }
  const std::pair<std::int64_t, float> tail[] = {{n - 1, NAN}, {(std::int64_t(1) << 21) + 12345, INFINITY}};
  for (const auto& [at, bad] : tail) {
    GradScaler s;
    auto g = in;
    g[std::size_t(at)] = layers::st<G>(bad);
    CHECK_MESSAGE(unscale_on_device(s, g).found_inf, "n " << n << " only " << bad << " at " << at);
  }
}

}  // namespace

TEST_CASE("unscale: every gradient times 1/scale, exactly, fp32" EX42) { check_exact_unscale<float>(); }
TEST_CASE("unscale: every gradient times 1/scale, exactly, fp16" EX42) { check_exact_unscale<half>(); }
TEST_CASE("unscale: every gradient times 1/scale, exactly, bf16" EX42) { check_exact_unscale<bfloat16>(); }
TEST_CASE("unscale: scales that are not powers of two: the fp32 product rounded once: fp32 gradients" EX42) {
  check_any_scale<float>();
}
TEST_CASE("unscale: scales that are not powers of two: the fp32 product rounded once: fp16 gradients" EX42) {
  check_any_scale<half>();
}
TEST_CASE("unscale: scales that are not powers of two: the fp32 product rounded once: bf16 gradients" EX42) {
  check_any_scale<bfloat16>();
}
TEST_CASE("unscale: more gradients than the grid has threads: all unscaled and checked: fp32 gradients" EX42) {
  check_beyond_the_grid<float>();
}
TEST_CASE("unscale: more gradients than the grid has threads: all unscaled and checked: fp16 gradients" EX42) {
  check_beyond_the_grid<half>();
}
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
