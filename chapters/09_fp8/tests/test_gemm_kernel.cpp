// The fp8 GEMM kernel (kernels/fp8/gemm.cu) on the emulator (ch09_tests_emu) or the GPU
// (ch09_tests_gpu), exact where every order of summation is: operands whose every partial
// sum is a small integer. (A GPU's tensor core adds in its own order and precision, so only
// the emulator is held to the reference's bits: test_gemm_kernel_emu.cpp.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/error.hpp"
#include "common/testing/test_backend.hpp"
#include "kernels/fp8/fp8.hpp"
#include "gemm_kernel_run.hpp"

using namespace halfway;
using namespace halfway::fp8;
using halfway::fp8::kernel_test::kFormats;
using halfway::fp8::kernel_test::kShapes;
using halfway::fp8::kernel_test::run;

TEST_CASE("the fp8 GEMM kernel is exact on small integers in both format mixes and odd shapes") {
  // Integers -4..4 are exact in both formats; K <= 257 products of at most 16 keep every
  // partial sum an integer below 2^13, and the inverse scales are powers of two: every
  // order of summation, in any accumulator of at least 14 significant bits, is exact.
  const Backend backend = halfway::testing::test_backend();
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

TEST_CASE("the fp8 GEMM kernel rejects a negative size and a grid too tall") {
  // Both are refused before anything is read, so no buffers are needed.
  const Backend backend = halfway::testing::test_backend();
  const Fp8GemmShape negative{4, -1, 8}, too_tall{65535LL * 64 + 1, 1, 1};
  CHECK_THROWS_WITH_AS(fp8_gemm(backend, negative, nullptr, 1.0f, nullptr, 1.0f, nullptr),
                       doctest::Contains("expected sizes >= 0"), Error);
  CHECK_THROWS_WITH_AS(fp8_gemm(backend, too_tall, nullptr, 1.0f, nullptr, 1.0f, nullptr),
                       doctest::Contains("65535 blocks"), Error);
}
