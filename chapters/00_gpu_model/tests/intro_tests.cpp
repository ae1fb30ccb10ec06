// Chapter 00's kernels against the host, on the backend this binary is built for
// (HALFWAY_TEST_BACKEND: emu or cuda). Integer-valued data makes sums exact, so those
// tests demand equality; random data is checked against an fp64 sum with a derived bound.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/intro/intro_ops.hpp"
#include "common/backend.hpp"
#include "common/rng.hpp"

using halfway::Backend;
namespace intro = halfway::intro;

namespace {
// Resolved on first use inside a test, never in a static initialiser (ctest's discovery
// runs this binary at build time, and the gpu build must not touch the GPU then).
Backend backend() {
  static const Backend chosen = halfway::select_backend(HALFWAY_TEST_BACKEND);
  return chosen;
}

std::vector<float> integers(int n, std::uint64_t seed) {  // values in [-8, 8]: exact sums
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = float(int(halfway::rng::bits(seed, i) % 17) - 8);
  return x;
}
}  // namespace

TEST_CASE("00.1 vector add equals the host for every element [ex00.1]") {
  // (n, blocks, threads): one thread, fewer threads than elements (the grid must stride),
  // more threads than elements (the tail must be guarded), odd sizes.
  const int cases[][3] = {{1, 1, 1}, {17, 1, 32}, {1000, 2, 64}, {1000, 64, 32}, {4099, 3, 96}};
  for (const auto& c : cases) {
    CAPTURE(c[0]);
    CAPTURE(c[1]);
    CAPTURE(c[2]);
    std::vector<float> a(c[0]), b(c[0]);
    for (int i = 0; i < c[0]; ++i) a[i] = 0.25f * i - 3, b[i] = 1.0f / (i + 1);
    const auto got = intro::vector_add(backend(), a, b, {c[1], c[2]});
    const auto want = intro::vector_add(Backend::cpu, a, b);
    REQUIRE(got.size() == want.size());
    int wrong = 0;
    for (int i = 0; i < c[0]; ++i) wrong += got[i] != want[i];  // one fp32 add: bitwise equal
    CHECK(wrong == 0);
  }
}

TEST_CASE("00.1 vector add with a grid smaller than a warp covers every element [ex00.1]") {
  const std::vector<float> a(300, 1.0f), b(300, 2.0f);
  const auto got = intro::vector_add(backend(), a, b, {1, 7});
  int wrong = 0;
  for (float v : got) wrong += v != 3.0f;
  CHECK(wrong == 0);
}

TEST_CASE("00.2 shuffle block sums are exact on integer data [ex00.2]") {
  const int cases[][3] = {{1, 1, 32}, {33, 1, 32}, {1000, 3, 64}, {5000, 2, 96}, {4096, 1, 1024}, {777, 5, 128}};
  for (const auto& c : cases) {
    CAPTURE(c[0]);
    CAPTURE(c[1]);
    CAPTURE(c[2]);
    const auto x = integers(c[0], 7 + c[0]);
    const auto got = intro::block_sums(backend(), intro::SumKernel::shuffle, x, {c[1], c[2]});
    const auto want = intro::block_sums(Backend::cpu, intro::SumKernel::shuffle, x, {c[1], c[2]});
    REQUIRE(got.size() == want.size());
    for (std::size_t j = 0; j < got.size(); ++j) CHECK(got[j] == want[j]);
  }
}

TEST_CASE("00.2 shuffle sum of random data within the fp32 rounding bound [ex00.2]") {
  const int n = 20000, blocks = 4, threads = 256;
  std::vector<float> x(n);
  double exact = 0, magnitude = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = halfway::rng::uniform(11, i) * 2 - 1;
    exact += x[i], magnitude += std::fabs(x[i]);
  }
  double total = 0;
  for (float s : intro::block_sums(backend(), intro::SumKernel::shuffle, x, {blocks, threads})) {
    REQUIRE(std::isfinite(s));
    total += s;
  }
  // ceil(n / grid) sequential adds per thread + log2(threads) shuffle/shared levels, each
  // rounding once in fp32 (unit roundoff 2^-24); the host adds the block sums in double.
  const double k = std::ceil(double(n) / (blocks * threads)) + std::log2(threads);
  CHECK(std::fabs(total - exact) <= k * std::ldexp(1.0, -24) * magnitude);
}

TEST_CASE("tree block sums are exact on integer data") {
  const int cases[][3] = {{1, 1, 1}, {33, 1, 32}, {1000, 3, 64}, {4096, 1, 1024}, {777, 5, 128}};
  for (const auto& c : cases) {
    CAPTURE(c[0]);
    const auto x = integers(c[0], 3 + c[0]);
    const auto got = intro::block_sums(backend(), intro::SumKernel::tree, x, {c[1], c[2]});
    const auto want = intro::block_sums(Backend::cpu, intro::SumKernel::tree, x, {c[1], c[2]});
    for (std::size_t j = 0; j < got.size(); ++j) CHECK(got[j] == want[j]);
  }
}

TEST_CASE("tree reduction rejects a block size that is not a power of two") {
  CHECK_THROWS_WITH(intro::block_sums(backend(), intro::SumKernel::tree, std::vector<float>(10), {1, 96}),
                    doctest::Contains("power of two"));
}

TEST_CASE("reverse through shared memory with a barrier is exact") {
  for (int n : {1, 33, 256, 1024}) {
    CAPTURE(n);
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = float(i * 3 + 1);
    const auto y = intro::reverse_in_shared(backend(), x, true);
    int wrong = 0;
    for (int t = 0; t < n; ++t) wrong += y[t] != x[n - 1 - t];
    CHECK(wrong == 0);
  }
}
