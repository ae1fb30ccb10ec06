// The cpu GEMM's threads (kernels/gemm/gemm_cpu_packed.cpp): a product big enough for
// OpenMP threads (common/parallel_ranges.hpp, worth_gemm_threads) gives the same bits on
// 1, 2 and 3 threads on every path this machine has. Each C block is one thread's sums in
// the same order whatever the count; a change that split a block's k-loop between threads
// (or packed a panel wrongly in parallel) would show here.
#include <doctest/doctest.h>
#include <omp.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/parallel_ranges.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/gemm/gemm.hpp"

using namespace halfway;

namespace {

struct ThreadsScope {  // restores OpenMP's thread count
  int saved = omp_get_max_threads();
  ~ThreadsScope() { omp_set_num_threads(saved); }
};

std::vector<std::uint16_t> random16(DType t, std::int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> f(static_cast<std::size_t>(n));
  for (float& x : f) x = u(rng);
  std::vector<std::uint16_t> h(f.size());
  convert_from_f32(t, f.data(), h.data(), n);
  return h;
}

// C's bytes after one product on `threads` OpenMP threads (alpha and beta over a random C).
std::vector<unsigned char> product_bytes(const GemmArgs& shape, int threads) {
  omp_set_num_threads(threads);
  GemmArgs g = shape;
  std::mt19937 rng(11);
  const std::int64_t a_rows = g.op_a == Op::N ? g.m : g.k, b_rows = g.op_b == Op::N ? g.k : g.n;
  const auto a = random16(g.in, a_rows * g.lda + (g.batch - 1) * g.stride_a, rng);
  const auto b = random16(g.in, b_rows * g.ldb + (g.batch - 1) * g.stride_b, rng);
  const std::int64_t c_elems = std::int64_t(g.m) * g.ldc + (g.batch - 1) * g.stride_c;
  const std::size_t c_bytes = std::size_t(c_elems) * (g.out == DType::f32 ? 4 : 2);
  std::vector<unsigned char> c(c_bytes);
  if (g.out == DType::f32) {
    std::vector<float> c0(std::size_t(c_elems), 0.5f);
    std::memcpy(c.data(), c0.data(), c_bytes);
  } else {
    const auto c0 = random16(g.out, c_elems, rng);
    std::memcpy(c.data(), c0.data(), c_bytes);
  }
  g.a = a.data();
  g.b = b.data();
  g.c = c.data();
  gemm(Backend::cpu, g);
  return c;
}

}  // namespace

TEST_CASE("cpu threads: the packed GEMM gives the same bits on 1 and 2 and 3 threads on every path") {
  const ThreadsScope restore;
  // 256 x 256 x 256 (2^24 multiply-adds, the threshold itself), the feed-forward layer's
  // 128 x 2048 x 128 with B transposed, and K 512 with N 1100 (several packed B panels:
  // kPanelBytes) as a batch of 2 with a 16-bit C, alpha and beta.
  struct Case {
    Op a, b;
    int m, n, k, batch;
    bool out16;
  };
  const Case cases[] = {{Op::N, Op::N, 256, 256, 256, 1, false},
                        {Op::N, Op::T, 128, 2048, 128, 1, false},
                        {Op::T, Op::N, 64, 1100, 512, 2, true}};
  for (const CpuIsa isa : {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::avx512bf16, CpuIsa::amx}) {
    if (!cpu_isa_available(isa)) {
      MESSAGE("skipped: this machine (CPU, OS or build) has no " << to_string(isa) << " path");
      continue;
    }
    CAPTURE(to_string(isa));
    const ScopedCpuIsa scope(isa);
    for (const DType in : {DType::f16, DType::bf16})
      for (const Case& s : cases) {
        CAPTURE(s.m);
        CAPTURE(s.n);
        CAPTURE(s.k);
        CAPTURE(to_string(in));
        GemmArgs g = gemm_args(s.a, s.b, s.m, s.n, s.k);
        g.in = in;
        g.out = s.out16 ? in : DType::f32;
        if (s.batch > 1) {
          g.batch = s.batch;
          g.stride_a = std::int64_t(s.m) * s.k;
          g.stride_b = std::int64_t(s.k) * s.n;
          g.stride_c = std::int64_t(s.m) * s.n;
          g.alpha = 0.75f;
          g.beta = -1.5f;
        }
        omp_set_num_threads(2);
        REQUIRE(worth_gemm_threads(double(s.m) * s.n * s.k));  // the threaded path is the one tested
        const auto one = product_bytes(g, 1);
        CHECK(product_bytes(g, 2) == one);
        CHECK(product_bytes(g, 3) == one);
      }
  }
}
