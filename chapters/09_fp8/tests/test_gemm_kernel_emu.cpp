// The fp8 GEMM kernel (kernels/fp8/gemm.cu) on the emulator (ch09_tests_emu only): it must
// give the cpu reference's bits. The emulated mma.sync adds in the reference's order
// (common/emu/mma_fp8.hpp); the shapes are odd, so edge tiles are padded with zeros; every
// format mix; finite codes (compared byte for byte), then with some inf and NaN codes among them.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fp8/fp8.hpp"
#include "gemm_kernel_run.hpp"

using namespace halfway;
using namespace halfway::fp8;
using halfway::fp8::kernel_test::kFormats;
using halfway::fp8::kernel_test::kShapes;
using halfway::fp8::kernel_test::run;

namespace {

/// Random finite fp8 codes of `format`; with `specials`, every 1009th is a random inf or NaN
/// code instead (sparse, so that most outputs stay finite and are compared bit by bit).
std::vector<std::uint8_t> codes(std::size_t n, Fp8Format format, bool specials, std::mt19937& rng) {
  std::vector<std::uint8_t> finite, other;
  for (int c = 0; c < 256; ++c)
    (std::isfinite(fp8_bits_to_float(std::uint8_t(c), format)) ? finite : other).push_back(std::uint8_t(c));
  std::uniform_int_distribution<std::size_t> pick_finite(0, finite.size() - 1), pick_other(0, other.size() - 1);
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = specials && i % 1009 == 0 ? other[pick_other(rng)] : finite[pick_finite(rng)];
  return v;
}

/// Same bits, or both NaN (a NaN's payload depends on which operand the FPU propagates).
bool same(float x, float y) {
  return (std::isnan(x) && std::isnan(y)) || std::memcmp(&x, &y, sizeof x) == 0;
}

}  // namespace

TEST_CASE("the fp8 GEMM kernel on emu equals the cpu reference bit for bit on odd shapes") {
  const Backend backend = Backend::emu;
  std::mt19937 rng(24);
  for (const Fp8GemmShape& shape : kShapes)
    for (Fp8Format af : kFormats)
      for (Fp8Format bf : kFormats)
        for (bool specials : {false, true}) {
          Fp8GemmShape s = shape;
          s.a_format = af;
          s.b_format = bf;
          const int a_format = int(af), b_format = int(bf);
          CAPTURE(s.m);
          CAPTURE(s.n);
          CAPTURE(s.k);
          CAPTURE(a_format);
          CAPTURE(b_format);
          CAPTURE(specials);
          const auto a = codes(static_cast<std::size_t>(s.m * s.k), af, specials, rng);
          const auto b = codes(static_cast<std::size_t>(s.n * s.k), bf, specials, rng);
          const float sa = 1.0f / 28.0f, sb = 0.37f;  // not powers of two: the scaling rounds too
          const std::vector<float> want = run(Backend::cpu, s, a, sa, b, sb);
          const std::vector<float> got = run(backend, s, a, sa, b, sb);
          REQUIRE(got.size() == want.size());
          if (!specials) {
            CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
          } else {
            std::size_t differ = 0;
            for (std::size_t i = 0; i < got.size(); ++i) differ += !same(got[i], want[i]);
            CHECK(differ == 0);
          }
        }
}

