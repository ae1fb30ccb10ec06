// The packed GEMM's small-product path (kernels/gemm/gemm_cpu_small.hpp): on every fp32
// path this machine has it gives the packed driver's bits exactly (every layout, alpha and
// beta, padded leading dimensions and batch strides, fp32 and 16-bit C, f16 and bf16,
// shapes on both sides of its rule), and the trainer's attention products take it.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "chapters/02_gemm/tests/cpu_products.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/gemm/gemm.hpp"
#include "kernels/gemm/gemm_cpu_packed.hpp"
#include "kernels/gemm/gemm_cpu_small.hpp"

using namespace halfway;
using namespace halfway::ch02;

namespace {

constexpr Op kLayouts[4][2] = {{Op::N, Op::N}, {Op::N, Op::T}, {Op::T, Op::N}, {Op::T, Op::T}};

// Whether `in` on the path in force sums in fp32 FMAs (not the bf16 units' own order).
bool fp32_arithmetic(CpuIsa isa, DType in) {
  return !(in == DType::bf16 && (isa == CpuIsa::avx512bf16 || isa == CpuIsa::amx));
}

// A batch of 3 with every leading dimension padded and gaps between the batch's matrices.
GemmArgs padded_batch(const Op* l, int m, int n, int k, DType in, DType out, float alpha, float beta) {
  GemmArgs g = gemm_args(l[0], l[1], m, n, k, 3);
  g.lda += 3;
  g.ldb += 5;
  g.ldc += 2;
  g.stride_a = (l[0] == Op::N ? m : k) * g.lda + 7;
  g.stride_b = (l[1] == Op::N ? k : n) * g.ldb + 1;
  g.stride_c = m * g.ldc + 4;
  g.in = in;
  g.out = out;
  g.alpha = alpha;
  g.beta = beta;
  return g;
}

}  // namespace

TEST_CASE("cpu small path: the small products give the packed driver's bits on every fp32 path") {
  // Shapes: one element; the attention's (5 x 5 x 32 scores, 5 x 32 x 5 products with V);
  // odd sizes across the 8- and 16-lane vectors and the 8 x 8 transposes (n 9, 17; k 13);
  // N 64 (4 AVX-512 vectors); K 128 with 32 rows (32 x 128 = 4096: A's buffer full);
  // 32 x 32 x 32 (the rule's limit, still small) and 33 x 32 x 32 (just past it: packed,
  // where the comparison checks nothing but that the dispatch refused it).
  struct Shape {
    int m, n, k;
  };
  const Shape shapes[] = {{1, 1, 1}, {5, 5, 32}, {5, 32, 5}, {7, 9, 13}, {3, 17, 40}, {2, 64, 3},
                          {32, 2, 128}, {32, 32, 32}, {33, 32, 32}};
  const float scales[][2] = {{1.0f, 0.0f}, {0.375f, 0.0f}, {1.0f, -1.5f}, {0.75f, 0.5f}};  // alpha, beta
  for_each_cpu_path([&](CpuIsa isa) {
    for (const DType in : {DType::f16, DType::bf16}) {
      const GemmCpuPath& path = gemm_cpu_path(isa, in);
      for (const auto& l : kLayouts)
        for (const Shape& s : shapes)
          for (const DType out : {DType::f32, in})
            for (const auto& ab : scales) {
              CAPTURE(to_string(in));
              CAPTURE(layout_name(gemm_args(l[0], l[1], 1, 1, 1)));
              CAPTURE(s.m);
              CAPTURE(s.n);
              CAPTURE(s.k);
              CAPTURE(to_string(out));
              CAPTURE(ab[0]);
              CAPTURE(ab[1]);
              const GemmArgs g = padded_batch(l, s.m, s.n, s.k, in, out, ab[0], ab[1]);
              const bool small = fp32_arithmetic(isa, in) && std::int64_t(s.m) * s.n * s.k <= 32 * 32 * 32;
              CHECK(gemm_cpu_small_fits(g, path) == small);
              std::vector<unsigned char> packed;
              {
                const ScopedPackedOnly packed_only;
                packed = product_bytes(g);
              }
              const std::int64_t calls = gemm_cpu_small_calls();
              CHECK(product_bytes(g) == packed);
              CHECK(gemm_cpu_small_calls() - calls == (small ? 1 : 0));
            }
      // One B for the whole batch (stride 0), the way a shared operand is passed.
      GemmArgs g = padded_batch(kLayouts[1], 5, 5, 32, in, DType::f32, 0.25f, 0.0f);
      g.stride_b = 0;
      std::vector<unsigned char> packed;
      {
        const ScopedPackedOnly packed_only;
        packed = product_bytes(g);
      }
      CHECK(product_bytes(g) == packed);
    }
  });
}

TEST_CASE("cpu small path: the trainer's attention products take it on the default path") {
  // MultiheadAttention (kernels/layers/modules.hpp) at the seed model's shapes: B * H = 128
  // heads, Lq = Lk = 5, head dim 32; the scores and dP in fp32, the rest in 16 bits.
  struct Product {
    Op a, b;
    int m, n, k;
    bool c16;
    float alpha;
  };
  const Product products[] = {
      {Op::N, Op::T, 5, 5, 32, false, 0.1767767f},  // scores = Q K^T / sqrt(dh)
      {Op::N, Op::N, 5, 32, 5, true, 1.0f},         // O = P V
      {Op::N, Op::T, 5, 5, 32, false, 1.0f},        // dP = dO V^T
      {Op::T, Op::N, 5, 32, 5, true, 1.0f},         // dV = P^T dO
      {Op::N, Op::N, 5, 32, 5, true, 0.1767767f},   // dQ = dS K / sqrt(dh)
      {Op::T, Op::N, 5, 32, 5, true, 0.1767767f},   // dK = dS^T Q / sqrt(dh)
  };
  for (const DType in : {DType::f16, DType::bf16}) {
    if (!fp32_arithmetic(cpu_isa(), in)) {
      MESSAGE("skipped: " << to_string(in) << " on " << to_string(cpu_isa()) << " takes the dot-product units");
      continue;
    }
    for (const Product& p : products) {
      GemmArgs g = gemm_args(p.a, p.b, p.m, p.n, p.k, 128);
      g.in = in;
      g.out = p.c16 ? in : DType::f32;
      g.alpha = p.alpha;
      const std::int64_t calls = gemm_cpu_small_calls();
      product_bytes(g);
      CHECK(gemm_cpu_small_calls() - calls == 1);
    }
  }
}
