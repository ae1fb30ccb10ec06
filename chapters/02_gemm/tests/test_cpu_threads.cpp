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

#include "chapters/02_gemm/tests/cpu_products.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/gemm/gemm.hpp"

using namespace halfway;

namespace {

struct ThreadsScope {  // restores OpenMP's thread count
  int saved = omp_get_max_threads();
  ~ThreadsScope() { omp_set_num_threads(saved); }
};

// C's bytes after one product on `threads` OpenMP threads (alpha and beta over a random C).
std::vector<unsigned char> product_bytes_on(const GemmArgs& shape, int threads) {
  omp_set_num_threads(threads);
  return ch02::product_bytes(shape);
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
  ch02::for_each_cpu_path([&](CpuIsa) {
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
        const auto one = product_bytes_on(g, 1);
        CHECK(product_bytes_on(g, 2) == one);
        CHECK(product_bytes_on(g, 3) == one);
      }
  });
}

TEST_CASE("cpu threads: elementwise host loops take both threads from 2^18 after a 16-bit GEMM and from 2^23 after an sgemm") {
  // worth_threads_elementwise (common/parallel_ranges.hpp) follows the last GEMM's team:
  // after OpenBLAS's sgemm its threads may still spin, and an OpenMP region beside them
  // made an fp32 step 5x slower; after the packed GEMM (OpenMP's own team) a region costs
  // little. On one thread, never.
  ThreadsScope scope;
  omp_set_num_threads(2);
  const auto run = [](DType in) {
    GemmArgs g = gemm_args(Op::N, Op::N, 8, 8, 8);
    g.in = in;
    std::vector<float> a(64, 1.0f), b(64, 1.0f), c(64, 0.0f);  // fp32 inputs: OpenBLAS's sgemm
    std::vector<std::uint16_t> a16(64, 0x3c00), b16(64, 0x3c00);  // 16-bit inputs: the packed GEMM
    g.a = in == DType::f32 ? static_cast<const void*>(a.data()) : a16.data();
    g.b = in == DType::f32 ? static_cast<const void*>(b.data()) : b16.data();
    g.c = c.data();
    gemm_cpu(g);
  };
  constexpr std::int64_t mid = std::int64_t(1) << 18, big = std::int64_t(1) << 23;
  run(DType::f16);
  CHECK(last_gemm_team.load() == GemmTeam::openmp);
  CHECK(worth_threads_elementwise(mid));
  CHECK_FALSE(worth_threads_elementwise(mid - 1));
  run(DType::f32);
  CHECK(last_gemm_team.load() == GemmTeam::openblas);
  CHECK_FALSE(worth_threads_elementwise(mid));
  CHECK_FALSE(worth_threads_elementwise(big - 1));
  CHECK(worth_threads_elementwise(big));
  run(DType::bf16);
  CHECK(worth_threads_elementwise(mid));
  omp_set_num_threads(1);
  CHECK_FALSE(worth_threads_elementwise(big));
}
