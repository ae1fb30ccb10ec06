// Numerics telemetry (kernels/amp/numerics.hpp) on the test's backend: hand-picked values
// of every class, then random tensors against an independent classification by
// thresholds in double (derived below from round-to-nearest-even), fp32 and 16-bit inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "common/testing/test_backend.hpp"
#include "common/device_memory.hpp"
#include "common/rng.hpp"
#include "kernels/amp/numerics.hpp"
#include "kernels/layers/scalar.hpp"

using namespace halfway;
using namespace halfway::amp;

namespace {

Backend device() { return testing::test_backend(); }

template <class T>
RangeCounts count(const std::vector<T>& host, DType in, DType format, float scale) {
  Buf<T> x;
  Buf<unsigned long long> work;
  T* d = x.get(std::max<std::size_t>(host.size(), 1), device());
  copy_in(device(), d, host.data(), host.size() * sizeof(T));
  return count_ranges(device(), in, d, std::int64_t(host.size()), format, scale,
                      work.get(RangeCounts::kClasses, device()));
}

// The class of x stored in the format after the scale, by thresholds on y = fl32(x scale):
// round to nearest even gives 0 for |y| <= half the smallest subnormal (the tie goes to
// the even 0), the smallest normal for |y| >= smallest normal - half a subnormal step (the
// tie goes to the normal's even mantissa 0), inf for |y| >= max + half an ulp of max (max's
// mantissa is odd: the tie goes up).
int reference_class(float x, DType format, float scale) {
  if (!std::isfinite(x)) return 5;
  if (x == 0) return 0;
  const double y = std::fabs(double(float(x * scale)));
  const bool f16 = format == DType::f16;
  const double sub = f16 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -133);
  const double min_normal = f16 ? std::ldexp(1.0, -14) : std::ldexp(1.0, -126);
  const double overflow = f16 ? 65520.0 : std::ldexp(1.0, 128) - std::ldexp(1.0, 119);
  if (y <= sub / 2) return 1;
  if (y >= overflow) return 4;
  if (y >= min_normal - sub / 2) return 3;
  return 2;
}

}  // namespace

TEST_CASE("numerics: hand-picked values fall in their classes") {
  const std::vector<float> v{0.0f, -0.0f, 0x1p-26f, 0x1p-25f, 0x1p-24f, 0x1p-15f, 0x1p-14f,
                             65504.0f, 65519.0f, 65520.0f, INFINITY, NAN};
  // fp16 at scale 1: 2 zeros; 2^-26 and 2^-25 (the tie) underflow; 2^-24 and 2^-15
  // subnormal; 2^-14, 65504, 65519 (rounds down to 65504) normal; 65520 overflows.
  const RangeCounts a = count(v, DType::f32, DType::f16, 1.0f);
  CHECK(a.n == std::array<std::int64_t, 6>{2, 2, 2, 3, 1, 2});
  // at scale 2^10: 2^-26, 2^-25 subnormal; 2^-24, 2^-15, 2^-14 normal; the three large overflow
  const RangeCounts b = count(v, DType::f32, DType::f16, 1024.0f);
  CHECK(b.n == std::array<std::int64_t, 6>{2, 0, 2, 3, 3, 2});
  // bf16 keeps them all (its range is fp32's)
  const RangeCounts c = count(v, DType::f32, DType::bf16, 1.0f);
  CHECK(c.n == std::array<std::int64_t, 6>{2, 0, 0, 8, 0, 2});
  const std::vector<float> tiny{0x1p-140f, 0x1p-134f, 0x1p-130f, 0x1p-126f};
  CHECK(count(tiny, DType::f32, DType::bf16, 1.0f).n == std::array<std::int64_t, 6>{0, 2, 1, 1, 0, 0});
  CHECK(count(std::vector<float>{}, DType::f32, DType::f16, 1.0f).total() == 0);
}

TEST_CASE("numerics: random tensors against the threshold reference, fp32 and 16-bit inputs") {
  const std::int64_t n = 70000 + 17;
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double e = -150.0 + 300.0 * rng::uniform(3, std::uint64_t(i));
    const double s = rng::uniform(4, std::uint64_t(i)) < 0.5 ? -1.0 : 1.0;
    x[std::size_t(i)] = i % 101 == 0 ? 0.0f : i % 997 == 0 ? NAN : float(s * std::exp2(e));
  }
  for (DType format : {DType::f16, DType::bf16})
    for (float scale : {1.0f, 0x1p8f, 0x1p16f, 0x1p24f}) {
      RangeCounts want;
      for (float v : x) ++want.n[std::size_t(reference_class(v, format, scale))];
      const RangeCounts got = count(x, DType::f32, format, scale);
      CHECK_MESSAGE(got.n == want.n, to_string(format) << " scale " << scale);
      // 16-bit inputs: the same counts as their fp32 values
      std::vector<half> h(x.size());
      RangeCounts want_h;
      for (std::size_t i = 0; i < x.size(); ++i) {
        h[i] = layers::st<half>(x[i]);
        ++want_h.n[std::size_t(reference_class(layers::ld(h[i]), format, scale))];
      }
      CHECK(count(h, DType::f16, format, scale).n == want_h.n);
    }
}
