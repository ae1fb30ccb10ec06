// The global norm on the test's backend (HALFWAY_TEST_BACKEND: cpu, emu or cuda): exact
// on integer inputs, within the derived bound of an fp64 reference on random ones, the same
// bits in every run and (emu) every thread order, the same bits on the cpu as on the
// device, no overflow where the true norm is finite, non-finite where a gradient is.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "common/emu/error.hpp"
#include "helpers.hpp"

using namespace ch06;
using namespace halfway::optim;

// The cpu backend runs the host's copy of the kernels' order, not exercise 06.1's code: its
// binary runs the same tests without the exercise's tag, so that they grade nothing.
#if defined(HALFWAY_CH06_ON_DEVICE)
#define EX061 " [ex06.1]"
#else
#define EX061 ""
#endif

namespace {

template <class G>
float norm_of(const std::vector<G>& host) {
  DeviceGrads<G> d(host);
  NormWorkspace ws;
  return global_norm(d.grads(), ws);
}

std::uint32_t bits(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Sizes around the block (256) and the grid (1024 blocks x 256 = 262144: beyond it threads
// loop), and odd ones.
const std::int64_t kSizes[] = {1, 7, 255, 256, 257, 1000, 65536 + 33, 262144, 262144 + 1000, 600001};

template <class G>
void check_against_reference(const std::vector<G>& g) {
  const std::int64_t n = std::int64_t(g.size());
  const double ref = reference_norm(g);
  const float got = norm_of(g);
  INFO("n = ", n);
  REQUIRE(std::isfinite(got));
  CHECK(std::fabs(double(got) - ref) <= norm_bound(ref, n));
}

// Every thread sums a 1 and then 8 squares of s = (255/256) 2^-12 (a G in all three types),
// each just under half an ulp of 1 in float (2^-24): a float running sum drops all 8 and
// ends 8 s^2 / 2 ~ 3.97 2^-24 low in the norm, four times the bound.
template <class G>
std::vector<G> small_squares_after_a_one() {
  return big_then_small<G>(9, 1.0f, std::ldexp(255.0f / 256.0f, -12));
}

template <class G>
void check_against_reference() {
  for (std::int64_t n : kSizes) check_against_reference(random_grads<G>(n, 100 + std::uint64_t(n)));
  check_against_reference(small_squares_after_a_one<G>());
}

}  // namespace

TEST_CASE("norm: integer gradients give the exact norm" EX061) {
  // k^2 ones have norm k; 3s and 4s in pairs have norm 5 * sqrt(pairs): exact in double
  // (integer sums below 2^53) and in float (the results are small integers). A lost or a
  // doubled element changes the result.
  for (std::int64_t k : {1, 3, 16, 17, 33, 513, 1025}) {
    INFO("k = ", k);
    CHECK(norm_of(std::vector<float>(std::size_t(k * k), 1.0f)) == float(k));
    CHECK(norm_of(std::vector<half>(std::size_t(k * k), half(-1.0f))) == float(k));
  }
  for (std::int64_t pairs : {1, 4, 100, 40000}) {  // 5 * sqrt(pairs) for square pairs
    std::vector<bfloat16> g;
    for (std::int64_t i = 0; i < pairs; ++i) g.push_back(bfloat16(3.0f)), g.push_back(bfloat16(-4.0f));
    CHECK(norm_of(g) == float(5.0 * std::sqrt(double(pairs))));
  }
  // Each thread: a 4096 (square 2^24), then four 1s. The sum, T (2^24 + 4) over the grid's
  // T threads, is exact in double, so the norm is its double sqrt rounded to float; a float
  // running sum would round 2^24 + 1 back to 2^24 (ties to even) and drop every 1.
  const auto g = big_then_small<half>(5, 4096.0f, 1.0f);
  const double threads = double(g.size() / 5);
  CHECK(norm_of(g) == float(std::sqrt(threads * (0x1p24 + 4.0))));
}

TEST_CASE("norm: fp64 reference fp32" EX061) { check_against_reference<float>(); }
TEST_CASE("norm: fp64 reference fp16" EX061) { check_against_reference<half>(); }
TEST_CASE("norm: fp64 reference bf16" EX061) { check_against_reference<bfloat16>(); }

TEST_CASE("norm: the same bits in 5 runs and every thread order and on the cpu" EX061) {
  const std::int64_t n = 262144 + 4097;
  const auto g = random_grads<float>(n, 5);
  const float first = norm_of(g);
  for (int run = 0; run < 5; ++run) CHECK(bits(norm_of(g)) == bits(first));
  if (device() == Backend::emu) {
    using namespace halfway::simt;
    for (OrderSetting o : {OrderSetting{ThreadOrder::forward, 1}, OrderSetting{ThreadOrder::reverse, 1},
                           OrderSetting{ThreadOrder::random, 1}, OrderSetting{ThreadOrder::random, 12345}}) {
      INFO("thread order ", to_string(o));
      set_thread_order(o);
      for (int run = 0; run < 5; ++run) CHECK(bits(norm_of(g)) == bits(first));
    }
    reset_thread_order();
  }
  // The cpu runs the kernels' order on the host: the same bits, not merely close ones, also
  // where the accumulation's precision shows (float sums would drop the small squares).
  NormWorkspace ws;
  auto host = g;
  CHECK(bits(global_norm(GradBuffer{Backend::cpu, DType::f32, host.data(), n}, ws)) == bits(first));
  auto sensitive = small_squares_after_a_one<float>();
  const float on_device = norm_of(sensitive);
  CHECK(bits(global_norm(GradBuffer{Backend::cpu, DType::f32, sensitive.data(), std::int64_t(sensitive.size())}, ws)) ==
        bits(on_device));
}

TEST_CASE("norm: no overflow or underflow where the true norm is a float" EX061) {
  // fp32 squares overflow above 1.8e19 and underflow below 1e-23: double holds both.
  const std::int64_t n = 10000;
  for (float v : {1e20f, -3e34f, 1e-30f, 1e-45f /* subnormal */}) {
    const double ref = std::fabs(double(v)) * 100.0;
    const float got = norm_of(std::vector<float>(std::size_t(n), v));
    INFO("value ", v);
    CHECK(std::fabs(double(got) - ref) <= norm_bound(ref, n));
  }
  CHECK(norm_of(std::vector<float>{std::numeric_limits<float>::max()}) == std::numeric_limits<float>::max());
  CHECK(norm_of(std::vector<float>{3e38f, 4e37f}) == float(std::hypot(double(3e38f), double(4e37f))));
  // fp16's largest gradients: squares far beyond fp16 and beyond what float sums handle
  // without care (65504^2 * 10000 = 4.3e13 is fine in float; the point is the exact value).
  CHECK(norm_of(std::vector<half>(std::size_t(n), half(65504.0f))) == 6550400.0f);
  // A true norm above float's range is +inf (the rounding of the double result).
  CHECK(std::isinf(norm_of(std::vector<float>(4, 3e38f))));
}

TEST_CASE("norm: a non-finite gradient gives a non-finite norm" EX061) {
  const std::int64_t n = 262144 + 777;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (std::int64_t at : {std::int64_t(0), std::int64_t(255), n / 2, n - 1}) {
    INFO("at ", at);
    auto g = random_grads<float>(n, 9);
    g[std::size_t(at)] = -inf;
    CHECK(norm_of(g) == inf);
    g[std::size_t(at)] = nan;
    CHECK(std::isnan(norm_of(g)));
    g[std::size_t((at + 1) % n)] = inf;  // both: inf + NaN is NaN
    CHECK(std::isnan(norm_of(g)));
  }
  auto h = random_grads<half>(1000, 3);
  h[500] = half(inf);
  CHECK(norm_of(h) == inf);
}

TEST_CASE("norm: no gradients give 0 and a bad buffer an Error") {
  NormWorkspace ws;
  CHECK(global_norm(GradBuffer{device(), DType::f32, nullptr, 0}, ws) == 0.0f);
  CHECK_THROWS_AS(global_norm(GradBuffer{device(), DType::f32, nullptr, 5}, ws), halfway::Error);
  CHECK_THROWS_AS(global_norm(GradBuffer{device(), DType::f32, nullptr, -1}, ws), halfway::Error);
}
