// The cpu GEMM's instruction-set paths for 16-bit inputs (kernels/gemm/cpu_isa.hpp): each
// path this machine has runs chapter 02's checks (exact on integers, the fp64 bound on
// random values), the fp32 paths give the plain twin's bits, and a path the machine lacks
// is skipped with a message, or refused with a clear error where it is asked for.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "chapters/02_gemm/tests/cpu_products.hpp"
#include "chapters/02_gemm/tests/gemm_check.hpp"
#include "common/error.hpp"
#include "common/host_simd.hpp"
#include "kernels/fp16/convert_array.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/gemm/gemm.hpp"

using namespace halfway;
using namespace halfway::ch02;

namespace {

constexpr CpuIsa kPaths[] = {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::avx512bf16, CpuIsa::amx};
constexpr Op kLayouts[4][2] = {{Op::N, Op::N}, {Op::N, Op::T}, {Op::T, Op::N}, {Op::T, Op::T}};

// Shapes around every path's blocks: one element; K odd (the pairs' zero padding) and
// below AMX's 32; sizes across the 4/6/8/16-row and 8/16/32-column register blocks; K past
// one AMX block and odd; M and N past several blocks.
constexpr Shape3 kShapes[] = {{1, 1, 1}, {5, 70, 3}, {17, 33, 40}, {40, 37, 129}, {72, 73, 74}};

void expect_ok(const Problem& p) {
  const Verdict v = run_and_check(Backend::cpu, GemmKernel::best, p);
  INFO(v.message);
  CHECK(v.ok);
}

// problem() (gemm_check.hpp) with a seed of its own per shape.
Problem seeded(const Op* l, Shape3 s, DType in, Values values) {
  Problem p = problem(l, s, in, DType::f32, values);
  p.seed = std::uint64_t(s.m * 7 + s.n * 3 + s.k);
  return p;
}

// C of one product of random 16-bit inputs (NT, padded leading dimensions, alpha and beta
// over a random C), on the path in force.
std::vector<float> product_bits(DType in, Op op_a, Op op_b, int m, int n, int k) {
  GemmArgs g = gemm_args(op_a, op_b, m, n, k);
  g.lda += 3;
  g.ldb += 5;
  g.ldc += 2;
  g.in = in;
  g.alpha = 0.75f;
  g.beta = -1.5f;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  const auto a = random16(in, (op_a == Op::N ? m : k) * g.lda, rng),
             b = random16(in, (op_b == Op::N ? k : n) * g.ldb, rng);
  std::vector<float> c(std::size_t(m * g.ldc));
  for (float& x : c) x = u(rng);
  g.a = a.data();
  g.b = b.data();
  g.c = c.data();
  gemm_cpu(g);
  return c;
}


// One of the trainer's products on random 16-bit inputs: batch entries of m x n, tight
// leading dimensions, alpha 1 and beta 0, C in fp32 or in the input's type.
struct TrainerProduct {
  Op op_a, op_b;
  int m, n, k, batch;
  bool c16;
};

float widen(DType in, std::uint16_t v) {
  float f = 0.0f;
  convert_to_f32(in, &v, &f, 1);
  return f;
}

// C's bits as the plain loop gives them: each element the fp32 sum of its exact products
// in the order k = 0, 1, ..., rounded once to a 16-bit C. The loop is written out here,
// independent of the packed GEMM's blocks and packing.
std::vector<std::uint32_t> sequential_bits(const GemmArgs& g) {
  const auto* a = static_cast<const std::uint16_t*>(g.a);
  const auto* b = static_cast<const std::uint16_t*>(g.b);
  std::vector<std::uint32_t> out;
  for (int z = 0; z < g.batch; ++z)
    for (int i = 0; i < g.m; ++i)
      for (int j = 0; j < g.n; ++j) {
        float sum = 0.0f;
        for (int p = 0; p < g.k; ++p) {
          const std::int64_t ia = z * g.stride_a + (g.op_a == Op::N ? i * g.lda + p : p * g.lda + i);
          const std::int64_t ib = z * g.stride_b + (g.op_b == Op::N ? p * g.ldb + j : j * g.ldb + p);
          sum += widen(g.in, a[ia]) * widen(g.in, b[ib]);  // exact product: FMA or not, one rounding
        }
        std::uint32_t bits = 0;
        if (g.out == DType::f32) {
          std::memcpy(&bits, &sum, sizeof sum);
        } else {
          std::uint16_t h = 0;
          convert_from_f32(g.out, &sum, &h, 1);
          bits = h;
        }
        out.push_back(bits);
      }
  return out;
}

// The same product on the path in force, C's bits in the order sequential_bits gives them.
std::vector<std::uint32_t> packed_bits(GemmArgs g) {
  const std::size_t count = std::size_t(g.m) * std::size_t(g.n) * std::size_t(g.batch);
  std::vector<float> c32(count, 0.0f);
  std::vector<std::uint16_t> c16(count, 0);
  g.c = g.out == DType::f32 ? static_cast<void*>(c32.data()) : static_cast<void*>(c16.data());
  gemm_cpu(g);
  std::vector<std::uint32_t> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (g.out == DType::f32)
      std::memcpy(&out[i], &c32[i], sizeof(float));
    else
      out[i] = c16[i];
  }
  return out;
}

}  // namespace

TEST_CASE("cpu paths: integer inputs give exact results on every path this machine has") {
  // Integers in [-4, 4]: every partial sum is an integer below 2^24, exact in fp32 in any
  // order and grouping, pairs and tiles included (gemm_check.cpp).
  for_each_cpu_path([](CpuIsa) {
    for (const DType in : {DType::f16, DType::bf16})
      for (const auto& l : kLayouts)
        for (const Shape3& s : kShapes) expect_ok(seeded(l, s, in, Values::integers));
  });
}

TEST_CASE("cpu paths: strides and batches and 16-bit outputs and alpha and beta are exact on every path") {
  for_each_cpu_path([](CpuIsa) {
    for (const DType in : {DType::f16, DType::bf16}) {
      for (const auto& l : kLayouts) {
        Problem p = seeded(l, {17, 33, 41}, in, Values::integers);
        p.pad = 3;
        p.offset = 1;
        p.alpha = 2.0f;
        p.beta = -1.0f;
        expect_ok(p);  // nothing aligned, alpha and beta over an fp32 C
        p.alpha = p.beta = 1.0f;
        expect_ok(p);  // a product accumulated into an fp32 C (a weight gradient)
        p.alpha = 2.0f;
        p.batch = 3;
        p.out = in;
        p.beta = 0.5f;
        expect_ok(p);  // a strided batch into a padded 16-bit C, which is read
        p.broadcast_b = true;
        p.pad = 0;
        p.offset = 0;
        p.beta = 0.0f;
        expect_ok(p);  // one B for the batch, a tight 16-bit C full of NaN (not read)
      }
    }
  });
}

TEST_CASE("cpu paths: random inputs stay within the fp64 bound on every path including the bf16 units") {
  // The bound of gemm_check.cpp, |C - ref| <= (K + 2) 2^-23 (|alpha| sum |a b| + |beta c|)
  // (+ the rounding of a 16-bit C), holds for the dot-product units too. Why: each bf16
  // product is exact in fp32 (8 x 8 significant bits); VDPBF16PS adds a pair of products to
  // a lane with at most two roundings to nearest, AMX's TDPBF16PS adds its 32 products of
  // a row and column into the accumulator with roundings too; either way there are at most
  // K - 1 roundings of partial sums (plus K for the accumulator updates when the unit rounds
  // each addition), each at most 2^-24 times a partial sum, and every partial sum is at
  // most sum |a b|: |s - S| <= 2K 2^-24 sum |a b| = K 2^-23 sum |a b|, inside the bound.
  // They also read bf16 denormals as zero and flush denormal results: values drawn from
  // [-2, 2) have no denormals, and no product or sum of them falls below 2^-126 except by
  // cancellation to exactly 0, so flushing changes nothing here.
  for_each_cpu_path([](CpuIsa) {
    for (const DType in : {DType::f16, DType::bf16}) {
      for (const auto& l : kLayouts) {
        for (const Shape3& s : {Shape3{72, 73, 74}, Shape3{5, 70, 3}, Shape3{40, 37, 129}}) {
          Problem p = seeded(l, s, in, Values::random);
          p.alpha = 0.75f;
          p.beta = -1.25f;
          expect_ok(p);
          p.out = in;
          expect_ok(p);
        }
      }
    }
    Problem p = seeded(kLayouts[1], {20, 24, 1000}, DType::bf16, Values::random);  // a long K
    expect_ok(p);
  });
}

TEST_CASE("cpu paths: the fp32 paths give the plain twin's bits") {
  // avx2, avx512, and fp16 on avx512bf16 and amx (AVX-512 fp32), sum each element's exact products
  // in the order k = 0, 1, ... like the generic path: the same bits, not just a bound.
  for (const DType in : {DType::f16, DType::bf16}) {
    for (const auto& l : kLayouts) {
      std::vector<float> plain;
      {
        const ScopedCpuIsa generic(CpuIsa::generic);
        plain = product_bits(in, l[0], l[1], 45, 77, 131);
      }
      for_each_cpu_path([&](CpuIsa isa) {
        if (in == DType::bf16 && (isa == CpuIsa::avx512bf16 || isa == CpuIsa::amx)) return;  // the units' own sums
        const std::vector<float> fast = product_bits(in, l[0], l[1], 45, 77, 131);
        CHECK(std::memcmp(fast.data(), plain.data(), plain.size() * sizeof(float)) == 0);
      });
    }
  }
}

TEST_CASE("cpu paths: bf16 on avx512bf16 gives the bits of VDPBF16PS's order which differ from the fp32 order") {
  // VDPBF16PS (Intel SDM) updates a lane with the odd k of its pair first, then the even
  // one, each product exact in fp32 (8 x 8 significant bits) and each addition rounded to
  // nearest even: acc = (acc + a[2q+1] b[2q+1]) + a[2q] b[2q] for q = 0, 1, ..., K padded
  // with zeros to even. That plain model gives the path's bits exactly (alpha 1, beta 0:
  // no epilogue), and they differ from the fp32 paths' order k = 0, 1, ... on some
  // elements: the bits depend on the path.
  if (!cpu_isa_available(CpuIsa::avx512bf16)) {
    MESSAGE("skipped: this machine (CPU, OS or build) has no avx512bf16 path");
    return;
  }
  const int m = 19, n = 45, k = 131;  // k odd: the last pair is padded
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> af(std::size_t(m) * k), bf(std::size_t(k) * n);
  for (float& x : af) x = u(rng);
  for (float& x : bf) x = u(rng);
  std::vector<std::uint16_t> a(af.size()), b(bf.size());
  convert_from_f32(DType::bf16, af.data(), a.data(), std::int64_t(a.size()));
  convert_from_f32(DType::bf16, bf.data(), b.data(), std::int64_t(b.size()));
  convert_to_f32(DType::bf16, a.data(), af.data(), std::int64_t(a.size()));  // the bf16 values, exact
  convert_to_f32(DType::bf16, b.data(), bf.data(), std::int64_t(b.size()));
  std::vector<float> pairs(std::size_t(m) * n), in_order(std::size_t(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      auto prod = [&](int p) { return p < k ? af[std::size_t(i) * k + p] * bf[std::size_t(p) * n + j] : 0.0f; };
      float acc = 0.0f, seq = 0.0f;
      for (int q = 0; 2 * q < k; ++q) {
        acc += prod(2 * q + 1);
        acc += prod(2 * q);
      }
      for (int p = 0; p < k; ++p) seq += prod(p);
      pairs[std::size_t(i) * n + j] = acc;
      in_order[std::size_t(i) * n + j] = seq;
    }
  for (const auto& l : kLayouts) {
    CAPTURE(int(l[0]));
    CAPTURE(int(l[1]));
    // The same matrices in each layout: op(A) = A, op(B) = B.
    std::vector<std::uint16_t> at(a.size()), bt(b.size());
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p) at[std::size_t(p) * m + i] = a[std::size_t(i) * k + p];
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < n; ++j) bt[std::size_t(j) * k + p] = b[std::size_t(p) * n + j];
    GemmArgs g = gemm_args(l[0], l[1], m, n, k);
    g.in = DType::bf16;
    g.a = l[0] == Op::N ? a.data() : at.data();
    g.b = l[1] == Op::N ? b.data() : bt.data();
    std::vector<float> c(std::size_t(m) * n, -1.0f);
    g.c = c.data();
    {
      const ScopedCpuIsa units(CpuIsa::avx512bf16);
      gemm_cpu(g);
    }
    CHECK(std::memcmp(c.data(), pairs.data(), c.size() * sizeof(float)) == 0);
    int differ = 0;
    for (std::size_t e = 0; e < c.size(); ++e) differ += c[e] != in_order[e];
    CHECK(differ > 0);
  }
}

TEST_CASE("cpu paths: the fp32 paths give the sequential sum's bits on the trainer's products") {
  // The seed model's products at a small batch: the FFN's K of 2048 forward and back (where
  // OpenBLAS's order, and so its bits, differ from these, with the attention's scores), the
  // attention's batches of tiny matrices (head dim 32) with fp32 and 16-bit C, a dx rounded
  // in the epilogue. Each element must be the plain loop's fp32 sum in the order k = 0, 1, ...,
  // bit for bit: a wrong tile edge, a transposed sliver or a second rounding shows here.
  const TrainerProduct products[] = {
      {Op::N, Op::T, 40, 128, 2048, 1, false},  // FFN down, forward: X W2^T
      {Op::N, Op::N, 40, 128, 2048, 1, true},   // FFN up, its dx: dH W1, rounded in the epilogue
      {Op::T, Op::N, 128, 64, 40, 1, false},    // a dW: dY^T X over the tokens
      {Op::N, Op::T, 4, 3, 32, 16, false},      // attention scores Q K^T per head
      {Op::N, Op::N, 4, 32, 3, 16, true},       // probabilities times V
      {Op::T, Op::N, 3, 32, 4, 16, true},       // their backward
  };
  for (const DType in : {DType::f16, DType::bf16}) {
    for (const TrainerProduct& t : products) {
      CAPTURE(t.m);
      CAPTURE(t.n);
      CAPTURE(t.k);
      GemmArgs g = gemm_args(t.op_a, t.op_b, t.m, t.n, t.k, t.batch);
      g.in = in;
      g.out = t.c16 ? in : DType::f32;
      std::mt19937 rng(11);
      const auto a = random16(in, std::int64_t(t.m) * t.k * t.batch, rng),
                 b = random16(in, std::int64_t(t.k) * t.n * t.batch, rng);
      g.a = a.data();
      g.b = b.data();
      const std::vector<std::uint32_t> want = sequential_bits(g);
      for_each_cpu_path([&](CpuIsa isa) {
        if (in == DType::bf16 && (isa == CpuIsa::avx512bf16 || isa == CpuIsa::amx)) return;  // the units' own sums
        CHECK(packed_bits(g) == want);
      });
    }
  }
}

TEST_CASE("cpu paths: a 16-bit C rounds overflow, infinities and NaN as the bulk conversion does on every path") {
  // The fused micro-kernels round C in registers (F16C for fp16, the integer rule for
  // bf16) instead of calling convert_from_f32: the same rule must hold for the values that
  // rounding treats apart. Row 0 sums past the type's range (fp16: 65504, a finite fp32
  // sum that rounds to inf; bf16: 2^126, an fp32 sum that overflows), row 1 meets a NaN,
  // row 2 sums inf and -inf (NaN), row 3 has one inf; the rest are random in [-2, 2). Each
  // product stays in fp32's range (a bf16 product can overflow, and then an FMA, which
  // does not round the product, and the plain loop differ). 16 x 64: whole blocks.
  for (const DType in : {DType::f16, DType::bf16}) {
    const bool f16 = in == DType::f16;
    const std::uint16_t big = f16 ? 0x7bff : 0x7e80, inf = f16 ? 0x7c00 : 0x7f80, nan = f16 ? 0x7e00 : 0x7fc0;
    const int m = 16, n = 64, k = 40;  // past the small path (gemm_cpu_small.hpp): the packed one
    GemmArgs g = gemm_args(Op::N, Op::T, m, n, k);
    g.in = in;
    g.out = in;
    std::mt19937 rng(5);
    auto a = random16(in, std::int64_t(m) * k, rng), b = random16(in, std::int64_t(n) * k, rng);
    for (int p = 0; p < k; ++p) {
      a[std::size_t(p)] = big;
      b[std::size_t(p)] = 0x4000;  // B's column 0 is 2.0: row 0's sum there is 2 k big
    }
    a[std::size_t(k + 3)] = nan;
    a[std::size_t(2 * k)] = inf;
    a[std::size_t(2 * k + 1)] = std::uint16_t(inf | 0x8000u);
    a[std::size_t(3 * k + 5)] = inf;
    g.a = a.data();
    g.b = b.data();
    const std::vector<std::uint32_t> want = sequential_bits(g);
    CHECK(want[0] == inf);
    CHECK(want[std::size_t(n)] == 0x7fff);
    for_each_cpu_path([&](CpuIsa isa) {
      if (!f16 && (isa == CpuIsa::avx512bf16 || isa == CpuIsa::amx)) return;  // the units' own sums
      CHECK(packed_bits(g) == want);
    });
  }
}

namespace {

// A product with a bias (GemmArgs::bias) of the GEMM's awkward kinds.
struct BiasCase {
  Op op_a, op_b;
  int m, n, k, batch;
  int pad;  // ldc = n + pad
  float alpha, beta;
  bool broadcast_b;
};

// C's whole storage after gemm_cpu(g) on the path in force, C (of type `out`) starting as
// `old` (16-bit values, widened for an fp32 C), each element's bits.
std::vector<std::uint32_t> c_storage_bits(GemmArgs g, DType out, const std::vector<std::uint16_t>& old) {
  std::vector<std::uint16_t> c16 = old;
  std::vector<float> c32(old.size());
  convert_to_f32(g.in, old.data(), c32.data(), std::int64_t(old.size()));
  g.out = out;
  g.c = out == DType::f32 ? static_cast<void*>(c32.data()) : static_cast<void*>(c16.data());
  gemm_cpu(g);
  std::vector<std::uint32_t> bits(old.size());
  for (std::size_t i = 0; i < old.size(); ++i) {
    if (out == DType::f32) std::memcpy(&bits[i], &c32[i], sizeof(float));
    else bits[i] = c16[i];
  }
  return bits;
}

}  // namespace

TEST_CASE("cpu paths: a bias joins C in fp32 before the one rounding on every path") {
  // The rule: C = round(fp32(alpha op(A) op(B) + beta C) + bias[j]), one fp32 add and one
  // rounding, as a linear layer's separate pass over an fp32 C did it. Checked against the
  // path's own fp32 C without a bias (so the bf16 units' sums are covered too): that C plus
  // the widened bias, rounded element by element, must be the biased 16-bit C bit for bit,
  // and the biased fp32 C must be that sum itself. Shapes: rows below every path's MR,
  // columns that end inside an NR sliver, ldc > n (the gap must stay untouched), batches,
  // alpha and beta over a 16-bit C that is read, several panels of B with one B for the batch,
  // and whole blocks with beta = 1 (the fused micro-kernels add C, then the bias).
  const BiasCase cases[] = {
      {Op::N, Op::T, 3, 37, 20, 1, 3, 1.0f, 0.0f, false},
      {Op::N, Op::N, 16, 64, 40, 3, 0, 1.0f, 0.0f, false},
      {Op::T, Op::N, 21, 45, 33, 2, 5, 0.75f, -1.5f, false},
      {Op::T, Op::T, 7, 19, 9, 2, 1, 1.0f, 1.0f, false},
      {Op::N, Op::T, 5, 300, 1100, 2, 2, 1.0f, 0.0f, true},
      {Op::N, Op::T, 24, 96, 50, 2, 4, 1.0f, 1.0f, false},  // whole blocks accumulated into C
  };
  for_each_cpu_path([&](CpuIsa) {
    for (const DType in : {DType::f16, DType::bf16}) {
      for (const BiasCase& t : cases) {
        INFO("m n k batch: " << t.m << " " << t.n << " " << t.k << " " << t.batch);
        GemmArgs g = gemm_args(t.op_a, t.op_b, t.m, t.n, t.k, t.batch);
        g.in = in;
        g.ldc = t.n + t.pad;
        g.stride_c = std::int64_t(t.m) * g.ldc;
        g.alpha = t.alpha;
        g.beta = t.beta;
        std::mt19937 rng(std::uint32_t(t.m * 7 + t.n));
        const auto a = random16(in, g.stride_a * t.batch, rng),
                   b = random16(in, g.stride_b * (t.broadcast_b ? 1 : t.batch), rng);
        if (t.broadcast_b) g.stride_b = 0;
        const auto bias = random16(in, t.n, rng), old = random16(in, g.stride_c * t.batch, rng);
        g.a = a.data();
        g.b = b.data();
        const std::vector<std::uint32_t> plain = c_storage_bits(g, DType::f32, old);  // no bias
        g.bias = bias.data();
        std::vector<std::uint32_t> want16(old.begin(), old.end()), want32 = plain;
        for (int z = 0; z < t.batch; ++z)
          for (int i = 0; i < t.m; ++i)
            for (int j = 0; j < t.n; ++j) {
              const std::size_t e = std::size_t(z * g.stride_c + i * g.ldc + j);
              float sum = 0.0f;
              std::memcpy(&sum, &plain[e], sizeof sum);
              sum += widen(in, bias[std::size_t(j)]);
              std::memcpy(&want32[e], &sum, sizeof sum);
              std::uint16_t h = 0;
              convert_from_f32(in, &sum, &h, 1);
              want16[e] = h;
            }
        CHECK(c_storage_bits(g, in, old) == want16);
        CHECK(c_storage_bits(g, DType::f32, old) == want32);
      }
    }
  });
}

TEST_CASE("cpu paths: a bias where no epilogue adds one is a clear error") {
  std::vector<std::uint16_t> a(16, 0x3c00), b(16, 0x3c00), bias(4, 0x3c00);
  GemmArgs g = gemm_args(Op::N, Op::N, 4, 4, 4);
  g.a = a.data();
  g.b = b.data();
  g.c = a.data();
  g.out = DType::f16;
  g.bias = bias.data();
  CHECK_THROWS_WITH_AS(gemm(Backend::emu, g), doctest::Contains("no GEMM bias on emu or cuda"), Error);
  std::vector<float> a32(16, 1.0f), b32(16, 1.0f), c32(16);
  g.in = g.out = DType::f32;
  g.a = a32.data();
  g.b = b32.data();
  g.c = c32.data();
  CHECK_THROWS_WITH_AS(gemm_cpu(g), doctest::Contains("no GEMM bias with f32 inputs"), Error);
}

TEST_CASE("cpu paths: a path the machine lacks is a clear error and ForcePlain takes the generic one") {
  CHECK(cpu_isa_available(CpuIsa::generic));
#if !HALFWAY_HOST_SIMD
  // The HALFWAY_PLAIN_CPU build compiles no SIMD code: generic is its only path.
  for (const CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512, CpuIsa::avx512bf16, CpuIsa::amx}) CHECK_FALSE(cpu_isa_available(isa));
#endif
  bool some_missing = false;
  for (const CpuIsa isa : kPaths) {
    if (cpu_isa_available(isa)) continue;
    some_missing = true;
    std::string message;
    try {
      const ScopedCpuIsa scope(isa);
    } catch (const Error& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("found " + std::string(to_string(isa))) != std::string::npos);
  }
  if (!some_missing) MESSAGE("this machine has every path: no missing one to ask for");
  const simd::ForcePlain plain;
  CHECK(cpu_isa() == CpuIsa::generic);
}
