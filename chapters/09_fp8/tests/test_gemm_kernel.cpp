// The fp8 GEMM kernel (kernels/fp8/gemm.cu) on the emulator (ch09_tests_emu) or the GPU
// (ch09_tests_gpu). On emu it must give the cpu reference's bits: the emulated mma.sync
// adds in the reference's order (common/emu/mma_fp8.hpp), on odd shapes whose edge tiles
// are padded with zeros, in every format mix. On a GPU the tensor core's internal order
// and precision are its own, so there the test uses operands whose every partial sum is
// a small integer: exact in any order with any accumulator of at least 14 bits.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/device_memory.hpp"
#include "common/testing/test_backend.hpp"
#include "kernels/fp8/fp8.hpp"
#include "kernels/fp8/gemm.hpp"

using namespace halfway;
using namespace halfway::fp8;

namespace {

constexpr Fp8GemmShape kShapes[] = {{1, 1, 1}, {17, 9, 33}, {64, 40, 96}, {130, 7, 257}, {3, 70, 0}};
constexpr Fp8Format kFormats[] = {Fp8Format::e4m3, Fp8Format::e5m2};

/// C on `backend` (device buffers there), copied back.
std::vector<float> run(Backend backend, const Fp8GemmShape& s, const std::vector<std::uint8_t>& a, float sa,
                       const std::vector<std::uint8_t>& b, float sb) {
  const auto cn = static_cast<std::size_t>(s.m * s.n);
  if (backend == Backend::cpu) {
    std::vector<float> c(cn, -1.0f);
    fp8_gemm(backend, s, a.data(), sa, b.data(), sb, c.data());
    return c;
  }
  Buf<std::uint8_t> da = device_copy(backend, a), db = device_copy(backend, b);
  Buf<float> dc = device_copy(backend, std::vector<float>(cn, -1.0f));
  fp8_gemm(backend, s, da.data(), sa, db.data(), sb, dc.data());
  return to_host(backend, dc.data(), cn);
}

/// Random fp8 codes of `format`: every code, or only the finite ones.
std::vector<std::uint8_t> codes(std::size_t n, Fp8Format format, bool finite_only, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::uint8_t> v(n);
  for (auto& x : v) {
    do x = static_cast<std::uint8_t>(byte(rng));
    while (finite_only && !std::isfinite(fp8_bits_to_float(x, format)));
  }
  return v;
}

/// Same bits, or both NaN (a NaN's payload depends on which operand the FPU propagates).
bool same(float x, float y) {
  return (std::isnan(x) && std::isnan(y)) || std::memcmp(&x, &y, sizeof x) == 0;
}

}  // namespace

TEST_CASE("the fp8 GEMM kernel on emu equals the cpu reference bit for bit on odd shapes") {
  const Backend backend = testing::test_backend();
  if (backend != Backend::emu) return;  // the GPU's tensor cores sum in their own order: see below
  std::mt19937 rng(24);
  for (const Fp8GemmShape& shape : kShapes)
    for (Fp8Format af : kFormats)
      for (Fp8Format bf : kFormats)
        for (bool finite_only : {true, false}) {
          Fp8GemmShape s = shape;
          s.a_format = af;
          s.b_format = bf;
          const int a_format = int(af), b_format = int(bf);
          CAPTURE(s.m);
          CAPTURE(s.n);
          CAPTURE(s.k);
          CAPTURE(a_format);
          CAPTURE(b_format);
          CAPTURE(finite_only);
          const auto a = codes(static_cast<std::size_t>(s.m * s.k), af, finite_only, rng);
          const auto b = codes(static_cast<std::size_t>(s.n * s.k), bf, finite_only, rng);
          const float sa = 1.0f / 28.0f, sb = 0.37f;  // not powers of two: the scaling rounds too
          const std::vector<float> want = run(Backend::cpu, s, a, sa, b, sb);
          const std::vector<float> got = run(backend, s, a, sa, b, sb);
          REQUIRE(got.size() == want.size());
          if (finite_only) {
            CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
          } else {
            std::size_t differ = 0;
            for (std::size_t i = 0; i < got.size(); ++i) differ += !same(got[i], want[i]);
            CHECK(differ == 0);
          }
        }
}

TEST_CASE("the fp8 GEMM kernel is exact on small integers in both format mixes and odd shapes") {
  // Integers -4..4 are exact in both formats; K <= 257 products of at most 16 keep every
  // partial sum an integer below 2^13, and the inverse scales are powers of two: every
  // order of summation, in any accumulator of at least 14 significant bits, is exact.
  const Backend backend = testing::test_backend();
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> small(-4, 4);
  for (const Fp8GemmShape& shape : kShapes)
    for (Fp8Format af : kFormats) {
      const Fp8GemmShape s{shape.m, shape.n, shape.k, af, Fp8Format::e4m3};
      const int a_format = int(af);
      CAPTURE(s.m);
      CAPTURE(s.n);
      CAPTURE(s.k);
      CAPTURE(a_format);
      std::vector<int> ai(static_cast<std::size_t>(s.m * s.k)), bi(static_cast<std::size_t>(s.n * s.k));
      std::vector<std::uint8_t> a(ai.size()), b(bi.size());
      for (std::size_t i = 0; i < a.size(); ++i)
        a[i] = float_to_fp8_bits(static_cast<float>(ai[i] = small(rng)), af, Saturation::none);
      for (std::size_t i = 0; i < b.size(); ++i)
        b[i] = float_to_e4m3_bits(static_cast<float>(bi[i] = small(rng)), Saturation::none);
      const std::vector<float> got = run(backend, s, a, 0.5f, b, 0.25f);
      std::size_t wrong = 0;
      for (std::int64_t i = 0; i < s.m; ++i)
        for (std::int64_t j = 0; j < s.n; ++j) {
          long exact = 0;
          for (std::int64_t p = 0; p < s.k; ++p) exact += ai[i * s.k + p] * bi[j * s.k + p];
          wrong += got[i * s.n + j] != std::ldexp(static_cast<float>(exact), -3);
        }
      CHECK(wrong == 0);
    }
}
