// The cpu dropout's fast path (AVX-512, kernels/layers/dropout_simd.hpp) and its plain C++
// twin give the same bits. Where the CPU has AVX-512 both run here and are compared bit for
// bit; everywhere (the HALFWAY_PLAIN_CPU build included) the path that runs is also checked
// against dropout_keep, the rule every backend follows, element by element.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/host_simd.hpp"
#include "common/rng.hpp"
#include "kernels/layers/dropout_simd.hpp"
#include "kernels/layers/modules.hpp"
#include "kernels/layers/ops.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

// Values that exercise the multiply and the rounding back to 16 bits: normals of both
// signs over many binades, zeros, subnormals, infinities, NaNs, fp16's largest values.
template <class T>
std::vector<T> awkward_values(std::size_t n, std::uint64_t seed) {
  using A = acc_t<T>;
  const A specials[] = {A(0), -A(0), std::numeric_limits<A>::infinity(), -std::numeric_limits<A>::infinity(),
                        std::numeric_limits<A>::quiet_NaN(), std::numeric_limits<A>::denorm_min(),
                        A(5.9604644775390625e-8), A(65504), A(-65504), A(65519)};
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const A x = i % 17 == 5 ? specials[(i / 17) % 10]
                            : A(rng::normal(seed, i)) * std::ldexp(A(1), int(rng::bits(seed + 1, i) % 40) - 20);
    v[i] = st<T>(x);
  }
  return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

TEST_CASE("host SIMD: what this build and this CPU have") {
  const bool f16c = simd::available(simd::Isa::f16c), avx512 = simd::available(simd::Isa::avx512);
  const std::string what = std::string("fast paths available: F16C ") + (f16c ? "yes" : "no") +
                           ", AVX-512 " + (avx512 ? "yes" : "no");
  MESSAGE(what);
#if !HALFWAY_HOST_SIMD
  CHECK_FALSE(f16c);  // the plain build has no fast path at all
  CHECK_FALSE(avx512);
#endif
  {
    simd::ForcePlain plain;  // while forced off, no fast path is taken
    CHECK_FALSE(simd::has(simd::Isa::f16c));
    CHECK_FALSE(simd::has(simd::Isa::avx512));
  }
  CHECK(simd::has(simd::Isa::f16c) == f16c);
  CHECK(simd::has(simd::Isa::avx512) == avx512);
}

TEST_CASE("dropout mask: the AVX-512 and AVX2 twins give the plain twin's 64 keep bits") {
  // Thresholds of p = 2^-24 (keep almost all), 0.1, 0.5, 1 - 2^-24 (keep almost none), the
  // extremes of the integer test, and one equal to a word of the group (>= against >);
  // counters just below and across 2^32 (the 64-bit counter split into two 32-bit lanes).
  const std::uint64_t firsts[] = {0, 16, 4096, (1ull << 32) - 8, (1ull << 32) + 16, 0x123456789abcull};
  for (const std::uint64_t seed : {0ull, 1234ull, 0xfedcba9876543210ull})
    for (const std::uint64_t first : firsts)
      for (const std::uint32_t t : {0u, 1u << 8, 1677722u << 8, 8388608u << 8, 16777215u << 8, 0xffffffffu,
                                    rng::block(seed, first + 5, rng::kStreamBits).v[2]}) {
        const std::uint64_t plain = mask64::keep_plain(seed, first, t);
        // the plain twin against dropout's rule, word e % 4 of block first + e / 4
        for (int e = 0; e < 64; ++e) {
          const std::uint32_t word = rng::block(seed, first + std::uint64_t(e / 4), rng::kStreamBits).v[e % 4];
          REQUIRE(((plain >> e) & 1u) == (word >= t ? 1u : 0u));
        }
#if HALFWAY_HOST_SIMD
        if (simd::available(simd::Isa::avx512)) REQUIRE(mask64::keep_avx512(seed, first, t) == plain);
        if (simd::available(simd::Isa::avx2)) REQUIRE(mask64::keep_avx2(seed, first, t) == plain);
#endif
      }
}

TEST_CASE("dropout mask: the AVX-512 and AVX2 multiplies give the plain twin's bits") {
  const auto v = awkward_values<float>(64 * 50, 5);
  for (int g = 0; g < 50; ++g) {
    const std::uint64_t m = rng::bits(6, std::uint64_t(g)) * 0x9E3779B97F4A7C15ull ^ rng::bits(7, std::uint64_t(g));
    for (const float scale : {1.0f / 0.9f, 2.0f, 1.0f / (1.0f - 0.99999994f)}) {
      float plain[64], fast[64];
      std::memcpy(plain, v.data() + 64 * g, sizeof plain);
      std::memcpy(fast, v.data() + 64 * g, sizeof fast);
      mask64::apply_plain(plain, m, scale);
      for (int e = 0; e < 64; ++e) {  // the twin against its one-line definition
        const float expect = (m >> e) & 1u ? v[std::size_t(64 * g + e)] * scale : 0.0f;
        REQUIRE(std::memcmp(&plain[e], &expect, 4) == 0);
      }
#if HALFWAY_HOST_SIMD
      if (simd::available(simd::Isa::avx512)) {
        mask64::apply_avx512(fast, m, scale);
        REQUIRE(std::memcmp(fast, plain, sizeof plain) == 0);
      }
      if (simd::available(simd::Isa::avx2)) {
        std::memcpy(fast, v.data() + 64 * g, sizeof fast);
        mask64::apply_avx2(fast, m, scale);
        REQUIRE(std::memcmp(fast, plain, sizeof plain) == 0);
      }
#endif
    }
  }
}

TEST_CASE_TEMPLATE("dropout: the plain cpu path gives the fast path's bits", T, float, half, bfloat16, double) {
  // Lengths: below one group (the scalar tail only), one group, groups plus a tail, more
  // than one chunk of 4096 elements with a partial group; p with p 2^24 an integer and not.
  for (const std::int64_t n : {std::int64_t(37), std::int64_t(64), std::int64_t(64 * 3 + 5), std::int64_t(4096 * 2 + 64 * 7 + 13)})
    for (const float p : {0.1f, 0.25f, 1.0f / 3.0f, 0.5f, 0.9f}) {
      CAPTURE(n);
      CAPTURE(p);
      const auto in = awkward_values<T>(std::size_t(n), std::uint64_t(n));
      auto fast = in, plain = in;
      dropout_inplace(fast.data(), n, p, 2024);
      {
        simd::ForcePlain force;
        dropout_inplace(plain.data(), n, p, 2024);
      }
      REQUIRE(same_bits(fast, plain));
      {
        auto avx2 = in;  // the AVX2 twins (AVX-512 forced off), where the CPU has them
        simd::ForceOff no_avx512(simd::Isa::avx512);
        dropout_inplace(avx2.data(), n, p, 2024);
        REQUIRE(same_bits(avx2, plain));
      }
      // Both against the rule: kept values times 1/(1-p) rounded once to T, the rest +0.
      using A = acc_t<T>;
      const A scale = A(1) / (A(1) - A(p));
      std::vector<T> expect(in.size());
      for (std::int64_t i = 0; i < n; ++i)
        expect[std::size_t(i)] = dropout_keep(2024, std::uint64_t(i), p) ? st<T>(ld(in[std::size_t(i)]) * scale)
                                                                          : st<T>(A(0));
      REQUIRE(same_bits(plain, expect));
    }
}

// The feed-forward block's cpu ReLU (kernels/layers/modules.hpp) works on the 16-bit words
// directly (forward) and through chapter 02's bulk conversion (backward): both must give
// torch.relu's element rule's bits, "ld(x) < 0 ? +0 : x" (NaN and -0 go on) and "ld(a) <= 0
// ? +0 : st(ld(da) * scale)" (PyTorch's threshold_backward: a NaN passes its gradient), for
// every one of the 65536 words (zeros of both signs, subnormals, infinities, NaNs).
TEST_CASE_TEMPLATE("ReLU on the cpu: every 16-bit word, forward and backward, gives the element rule's bits", T,
                   half, bfloat16) {
  constexpr std::int64_t n = 65536;
  std::vector<T> words(n), da0(n);
  for (std::int64_t w = 0; w < n; ++w) {
    words[w] = std::bit_cast<T>(std::uint16_t(w));
    da0[w] = std::bit_cast<T>(std::uint16_t(std::uint32_t(w) * 40503u));  // every word again, in another order
  }
  std::vector<T> a(n);
  relu_range(words.data(), a.data(), 0, n);
  std::int64_t wrong = 0;
  for (std::int64_t w = 0; w < n; ++w) {
    const T expect = ld(words[w]) < 0 ? st<T>(0.0f) : words[w];
    wrong += std::bit_cast<std::uint16_t>(a[w]) != std::bit_cast<std::uint16_t>(expect);
  }
  CHECK(wrong == 0);
  // The NaNs pass (torch.relu keeps them: a NaN must not hide in the forward pass).
  const T nan = std::bit_cast<T>(std::uint16_t(std::is_same_v<T, half> ? 0x7E00 : 0x7FC0));
  const T minus_nan = std::bit_cast<T>(std::uint16_t(std::bit_cast<std::uint16_t>(nan) | 0x8000u));
  CHECK(std::bit_cast<std::uint16_t>(a[std::bit_cast<std::uint16_t>(nan)]) == std::bit_cast<std::uint16_t>(nan));
  CHECK(std::bit_cast<std::uint16_t>(a[std::bit_cast<std::uint16_t>(minus_nan)]) == std::bit_cast<std::uint16_t>(minus_nan));

  const float scale = 1.0f / (1.0f - 0.1f);  // dropout 0.1's
  std::vector<T> da = da0;
  relu_grad_range(words.data(), da.data(), scale, 0, n);
  wrong = 0;
  for (std::int64_t w = 0; w < n; ++w) {
    const T expect = ld(words[w]) <= 0 ? st<T>(0.0f) : st<T>(ld(da0[w]) * scale);
    wrong += std::bit_cast<std::uint16_t>(da[w]) != std::bit_cast<std::uint16_t>(expect);
  }
  CHECK(wrong == 0);
}

// The fp32 loops of the same ReLU: torch.relu's rule on the values where it matters (NaNs
// of both signs, zeros of both signs, infinities, subnormals), and its backward.
TEST_CASE("ReLU on the cpu in fp32: NaN and -0 go on and a NaN output passes its gradient") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float tiny = std::numeric_limits<float>::denorm_min();
  const std::vector<float> h = {nan, -nan, 0.0f, -0.0f, inf, -inf, tiny, -tiny, 1.5f, -1.5f};
  std::vector<float> a(h.size());
  relu_range(h.data(), a.data(), 0, std::int64_t(h.size()));
  const std::vector<float> da0(h.size(), 3.0f);
  std::vector<float> da = da0;
  relu_grad_range(a.data(), da.data(), 0.5f, 0, std::int64_t(h.size()));
  for (std::size_t i = 0; i < h.size(); ++i) {
    CAPTURE(h[i]);
    const float expect = h[i] < 0 ? 0.0f : h[i];
    CHECK(std::bit_cast<std::uint32_t>(a[i]) == std::bit_cast<std::uint32_t>(expect));
    CHECK(da[i] == (a[i] <= 0 ? 0.0f : 1.5f));
  }
  CHECK(std::isnan(a[0]));
  CHECK(std::signbit(a[3]));  // -0 stays -0, as torch.relu(-0.) is -0.
  CHECK(da[0] == 1.5f);       // torch: relu's gradient at a NaN input passes
}
