// Chapter 02's GEMM tests, compiled once per backend (CH02_BACKEND: cpu, emu or cuda).
// On emu and cuda every rung of the kernel ladder runs the same checks; on cpu the host
// GEMM does. f32 inputs (the fp32 kernel on emu/cuda, sgemm on cpu) run on all three. Integer inputs must give exact results; random inputs stay within the fp32
// accumulation bound derived in gemm_check.cpp; a NaN or Inf output always fails.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "chapters/02_gemm/tests/gemm_check.hpp"
#include "common/error.hpp"

using namespace halfway;
using namespace halfway::ch02;

namespace {

constexpr Backend kBackend = Backend::CH02_BACKEND;
// Every test name starts with its backend ("emu: kernel 4 ..."): the three binaries share
// this source, and ctest needs names that are unique across them.
#define CH02_STR2(x) #x
#define CH02_STR(x) CH02_STR2(x)
#define CH02_TEST(name) TEST_CASE(CH02_STR(CH02_BACKEND) ": " name)
constexpr Op N = Op::N, T = Op::T;

void expect_ok(GemmKernel kernel, const Problem& p) {
  const Verdict v = run_and_check(kBackend, kernel, p);
  INFO(v.message);
  CHECK(v.ok);
}

// The shapes every kernel must get right: a single element, odd sizes smaller than one
// tile, odd sizes spanning several 16x16 tiles and one 128x128 block edge, and an
// aligned shape of several whole blocks.
constexpr Shape3 kShapes[] = {{1, 1, 1}, {17, 33, 40}, {72, 73, 74}, {128, 256, 64}};
constexpr Op kLayouts[4][2] = {{N, N}, {N, T}, {T, N}, {T, T}};

// The GemmArgs of an N N problem over the buffers a, b and c (the argument checks).
template <class In, class Out>
GemmArgs args_over(int m, int n, int k, std::vector<In>& a, std::vector<In>& b, std::vector<Out>& c) {
  GemmArgs g = gemm_args(N, N, m, n, k);
  g.a = a.data();
  g.b = b.data();
  g.c = c.data();
  return g;
}

// Integer inputs, every layout and shape, tight leading dimensions, fp32 output.
void exact_layouts_and_shapes(GemmKernel kernel) {
  for (const auto& s : kShapes) {
    for (const auto& l : kLayouts) {
      Problem p = problem(l, s);
      p.seed = std::uint64_t(s.m * 7 + s.n * 3 + s.k);
      expect_ok(kernel, p);
    }
  }
}

// Leading dimensions padded to 16-byte aligned rows (the vector paths), padded but not
// aligned, and unaligned base pointers; bf16 inputs; every layout.
void exact_strides_and_types(GemmKernel kernel) {
  for (const auto& l : kLayouts) {
    for (DType in : {DType::f16, DType::bf16}) {
      Problem p = problem(l, {72, 73, 74}, in);
      p.align8 = true;
      p.pad = 8;
      expect_ok(kernel, p);  // aligned rows, partial tiles at every edge
      p.align8 = false;
      p.pad = 3;
      p.offset = 1;
      expect_ok(kernel, p);  // nothing aligned
    }
  }
}

// 16-bit outputs (the input type), alpha and beta, integer values: still exact.
void exact_outputs_alpha_beta(GemmKernel kernel) {
  for (DType in : {DType::f16, DType::bf16}) {
    for (DType out : {DType::f32, in}) {
      for (const auto& l : {kLayouts[0], kLayouts[2]}) {
        Problem p = problem(l, {40, 72, 50}, in, out);
        p.alpha = 2.0f;
        p.beta = -1.0f;
        p.align8 = true;  // with an aligned C, kernel 6's vector epilogue is used
        expect_ok(kernel, p);
        p.alpha = 1.0f;
        p.beta = 0.0f;  // C filled with NaN, which must not be read
        p.offset = 1;
        expect_ok(kernel, p);
      }
    }
  }
}

// Strided batches: padded strides, and one B broadcast to every entry.
void exact_batches(GemmKernel kernel) {
  for (const auto& l : kLayouts) {
    Problem p = problem(l, {17, 33, 40});
    p.batch = 3;
    p.pad = 2;
    expect_ok(kernel, p);
    p.broadcast_b = true;
    p.align8 = true;
    p.out = DType::f16;
    p.beta = 0.5f;
    expect_ok(kernel, p);
  }
}

// Random inputs against the fp64 reference and the K-scaled bound.
void random_within_bound(GemmKernel kernel) {
  for (const auto& l : kLayouts) {
    for (DType in : {DType::f16, DType::bf16}) {
      for (DType out : {DType::f32, in}) {
        Problem p = problem(l, {72, 73, 74}, in, out, Values::random);
        p.alpha = 0.75f;
        p.beta = -1.25f;
        p.seed = 11;
        expect_ok(kernel, p);
      }
    }
  }
  // A long K, where the accumulation error grows.
  Problem p = problem(kLayouts[0], {20, 24, 1000}, DType::f16, DType::f32, Values::random);
  p.align8 = true;
  expect_ok(kernel, p);
}

// f32 inputs and output (chapter 03's fp32 mode): the fp32 SIMT kernel on emu and cuda,
// sgemm on cpu. Shapes around its 64x64 block tile and 16-deep k-step: one element, odd
// sizes inside one block, across block edges in M, N and K (72x73x74, 130x65x33).
constexpr Shape3 kF32Shapes[] = {{1, 1, 1}, {17, 33, 40}, {72, 73, 74}, {130, 65, 33}};

Problem f32_problem(const Op* l, const Shape3& s, Values values = Values::integers) {
  Problem p = problem(l, s, DType::f32, DType::f32, values);
  p.seed = std::uint64_t(s.m * 5 + s.n * 3 + s.k + 101);
  return p;
}

// Integer inputs: every partial sum is an integer below 2^24, exact in any order.
void f32_exact_layouts_and_shapes() {
  for (const auto& s : kF32Shapes)
    for (const auto& l : kLayouts) expect_ok(GemmKernel::best, f32_problem(l, s));
}

// Padded leading dimensions (aligned and not), unaligned bases, batches with padded
// strides and a broadcast B, alpha and beta, and beta == 0 over a C full of NaN.
void f32_exact_strides_batches_alpha_beta() {
  for (const auto& l : kLayouts) {
    Problem p = f32_problem(l, {72, 73, 74});
    p.align8 = true;
    p.pad = 8;
    expect_ok(GemmKernel::best, p);  // ld rounded up to 8, plus 8
    p.align8 = false;
    p.pad = 3;
    p.offset = 1;
    p.alpha = 2.0f;
    p.beta = -1.0f;
    expect_ok(GemmKernel::best, p);  // nothing aligned, alpha and beta
    p = f32_problem(l, {17, 33, 40});
    p.batch = 3;
    p.pad = 2;
    p.alpha = -0.5f;
    p.beta = 0.0f;  // C filled with NaN (run_and_check), which must not be read
    expect_ok(GemmKernel::best, p);
    p.broadcast_b = true;
    p.beta = 0.25f;
    expect_ok(GemmKernel::best, p);
  }
}

// Random fp32 inputs (full 24-bit significands) against the fp64 reference and the fp32
// accumulation bound of gemm_check.cpp (which covers the rounded fp32 products too).
void f32_random_within_bound() {
  for (const auto& l : kLayouts) {
    for (const Shape3& s : {Shape3{72, 73, 74}, Shape3{130, 65, 33}}) {
      Problem p = f32_problem(l, s, Values::random);
      p.alpha = 0.75f;
      p.beta = -1.25f;
      p.pad = 1;
      expect_ok(GemmKernel::best, p);
    }
  }
  // A long K, where the accumulation error grows; and a batch.
  Problem p = f32_problem(kLayouts[0], {20, 24, 1000}, Values::random);
  expect_ok(GemmKernel::best, p);
  p = f32_problem(kLayouts[3], {33, 17, 70}, Values::random);
  p.batch = 3;
  p.beta = 1.0f;
  expect_ok(GemmKernel::best, p);
}

}  // namespace

// fp32 GEMM on every backend (emu and cuda: kernels/gemm/sgemm_tiled.cu).
CH02_TEST("fp32 GEMM: integer inputs give exact results for every layout and shape") {
  f32_exact_layouts_and_shapes();
}
CH02_TEST("fp32 GEMM: padded strides and batches and alpha and beta are exact") {
  f32_exact_strides_batches_alpha_beta();
}
CH02_TEST("fp32 GEMM: random inputs stay within the fp32 accumulation bound") { f32_random_within_bound(); }

// The checker itself: a test that cannot fail proves nothing.
CH02_TEST("the comparison fails on NaN and Inf whatever the bound") {
  const double inf = 1.0 / 0.0, nan = 0.0 / 0.0;
  CHECK(compare({1.0, 2.0}, {1.0, 2.0}, {0.0, 0.0}).ok);
  CHECK_FALSE(compare({1.0, 2.5}, {1.0, 2.0}, {0.0, 0.1}).ok);
  CHECK_FALSE(compare({nan}, {1.0}, {1e300}).ok);
  CHECK_FALSE(compare({inf}, {inf}, {1e300}).ok);
  CHECK_FALSE(compare({-inf}, {0.0}, {inf}).ok);
}

CH02_TEST("GEMM arguments are checked with clear messages") {
  std::vector<std::uint16_t> a(64), b(64);
  std::vector<float> c(64);
  const GemmArgs g = args_over(4, 4, 4, a, b, c);
  auto message = [&](const GemmArgs& bad) {
    try {
      validate(bad);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message(g) == "no error");
  GemmArgs bad = g;
  bad.k = 0;
  CHECK(message(bad).find("expected GEMM sizes M, N, K >= 1, found M = 4, N = 4, K = 0") != std::string::npos);
  bad = g;
  bad.lda = 3;
  CHECK(message(bad).find("expected lda >= 4") != std::string::npos);
  bad = g;
  bad.op_b = T;
  bad.ldb = 2;
  CHECK(message(bad).find("op_b T") != std::string::npos);
  bad = g;
  bad.in = DType::bf16;
  bad.out = DType::f16;
  CHECK(message(bad).find("expected GEMM output f32 or bf16") != std::string::npos);
  bad.in = DType::f32;  // f32 inputs allow only an f32 output
  CHECK(message(bad).find("expected GEMM output f32 for f32 inputs, found f16") != std::string::npos);
  bad = g;
  bad.batch = 2;
  bad.stride_c = 8;
  CHECK(message(bad).find("must not overlap") != std::string::npos);
  CHECK_THROWS_AS(parse_gemm_kernel("fastest"), UsageError);
  CHECK(parse_gemm_kernel("4") == GemmKernel::wmma_block);
  CHECK(parse_gemm_kernel("wmma_best") == GemmKernel::wmma_best);
}

#if CH02_BACKEND_IS_CPU

CH02_TEST("integer inputs give exact results for every layout and shape") {
  exact_layouts_and_shapes(GemmKernel::best);
}
CH02_TEST("padded and unaligned strides and bf16 are exact") {
  exact_strides_and_types(GemmKernel::best);
}
CH02_TEST("16-bit outputs with alpha and beta are exact") { exact_outputs_alpha_beta(GemmKernel::best); }
CH02_TEST("strided batches are exact") { exact_batches(GemmKernel::best); }
CH02_TEST("random inputs stay within the fp32 accumulation bound") {
  random_within_bound(GemmKernel::best);
}
CH02_TEST("f32 inputs (chapter 03's fp32 mode) go straight to sgemm") {
  for (const auto& l : kLayouts) {
    Problem p = problem(l, {17, 33, 40}, DType::f32);
    p.batch = 2;
    p.pad = 1;
    expect_ok(GemmKernel::best, p);  // integers: exact
    p.values = Values::random;
    p.alpha = 0.5f;
    p.beta = 2.0f;
    expect_ok(GemmKernel::best, p);
  }
}

CH02_TEST("the ladder's kernels are not cpu kernels") {
  std::vector<std::uint16_t> a(1), b(1);
  std::vector<float> c(1);
  const GemmArgs g = args_over(1, 1, 1, a, b, c);
  CHECK_THROWS_WITH_AS(gemm(Backend::cpu, g, GemmKernel::naive),
                       doctest::Contains("kernel 'best' on the cpu backend"), Error);
}

CH02_TEST("conversions agree with the compiler's _Float16 and round bf16 to nearest even") {
  // Every fp16 bit pattern converts exactly and back (NaNs become the canonical 0x7fff).
  std::vector<std::uint16_t> all(65536), back(65536);
  for (int i = 0; i < 65536; ++i) all[std::size_t(i)] = std::uint16_t(i);
  std::vector<float> f(65536);
  convert_to_f32(DType::f16, all.data(), f.data(), 65536);
  convert_from_f32(DType::f16, f.data(), back.data(), 65536);
  int mismatches = 0;
  for (int i = 0; i < 65536; ++i) {
    _Float16 h;
    std::memcpy(&h, &all[std::size_t(i)], 2);
    const float expect = float(h);
    const bool nan = expect != expect;
    if (nan ? (f[std::size_t(i)] == f[std::size_t(i)] || back[std::size_t(i)] != 0x7fff)
            : (f[std::size_t(i)] != expect || back[std::size_t(i)] != all[std::size_t(i)]))
      ++mismatches;
  }
  CHECK(mismatches == 0);
  // Float to fp16 rounding on values between the representable ones, vector and tail paths.
  std::vector<float> x;
  for (int i = 0; i < 100003; ++i) x.push_back(std::ldexp(float(i % 4099) - 2049.5f, (i % 41) - 30) * 1.0003f);
  x.push_back(65519.0f);
  x.push_back(65520.0f);
  x.push_back(std::ldexp(1.0f, -25));
  x.push_back(std::ldexp(1.5f, -25));
  std::vector<std::uint16_t> h(x.size());
  convert_from_f32(DType::f16, x.data(), h.data(), std::int64_t(x.size()));
  mismatches = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const _Float16 expect = static_cast<_Float16>(x[i]);
    std::uint16_t eb;
    std::memcpy(&eb, &expect, 2);
    if (eb != h[i]) ++mismatches;
  }
  CHECK(mismatches == 0);
  // bf16: ties go to even, and the conversion back is exact.
  const float tie_down = std::ldexp(1.0f + 1.0f / 256.0f, 0);  // halfway between 1 and 1+2^-7
  const float tie_up = std::ldexp(1.0f + 3.0f / 256.0f, 0);    // halfway between 1+2^-7 and 1+2^-6
  std::uint16_t r[2];
  const float in2[2] = {tie_down, tie_up};
  convert_from_f32(DType::bf16, in2, r, 2);
  CHECK(r[0] == 0x3f80);
  CHECK(r[1] == 0x3f82);
}

#else

#define CH02_KERNEL_TESTS(kernel, name, tags)                                                       \
  CH02_TEST(name ": integer inputs give exact results for every layout and shape" tags) {          \
    exact_layouts_and_shapes(kernel);                                                              \
  }                                                                                                \
  CH02_TEST(name ": padded and unaligned strides and bf16 are exact" tags) {                       \
    exact_strides_and_types(kernel);                                                               \
  }                                                                                                \
  CH02_TEST(name ": 16-bit outputs with alpha and beta are exact" tags) { exact_outputs_alpha_beta(kernel); } \
  CH02_TEST(name ": strided batches are exact" tags) { exact_batches(kernel); }                    \
  CH02_TEST(name ": random inputs stay within the fp32 accumulation bound" tags) {                \
    random_within_bound(kernel);                                                                   \
  }

CH02_KERNEL_TESTS(GemmKernel::naive, "kernel 1 naive", "")
CH02_KERNEL_TESTS(GemmKernel::smem_tiled, "kernel 2 smem_tiled", " [ex02.1]")
CH02_KERNEL_TESTS(GemmKernel::wmma_naive, "kernel 3 wmma_naive", "")
CH02_KERNEL_TESTS(GemmKernel::wmma_block, "kernel 4 wmma_block", " [ex02.2]")
CH02_KERNEL_TESTS(GemmKernel::wmma_pipeline, "kernel 5 wmma_pipeline", "")
CH02_KERNEL_TESTS(GemmKernel::wmma_best, "kernel 6 wmma_best", "")

CH02_TEST("kernel 6's other tile shapes are exact too") {
  for (int variant = 1; variant < 4; ++variant) {
    for (const Shape3& s : {Shape3{72, 73, 74}, Shape3{128, 256, 64}, Shape3{300, 280, 136}}) {
      Problem p = problem(kLayouts[0], s);
      p.best_variant = variant;
      expect_ok(GemmKernel::best, p);
      p.align8 = true;
      p.out = DType::f16;
      p.beta = 1.0f;
      expect_ok(GemmKernel::best, p);
    }
  }
}

CH02_TEST("f32 inputs run the fp32 kernel only: the ladder's rungs refuse them") {
  std::vector<float> a(1), b(1), c(1);
  GemmArgs g = args_over(1, 1, 1, a, b, c);
  g.in = DType::f32;
  CHECK_THROWS_WITH_AS(gemm(kBackend, g, GemmKernel::naive), doctest::Contains("kernel 'best' for f32 inputs"), Error);
  CHECK_THROWS_WITH_AS(gemm_best_variant(kBackend, g, 1), doctest::Contains("f16 or bf16 inputs for kernel 6"), Error);
}

CH02_TEST("a GemmKernel value outside the ladder is an error") {
  std::vector<std::uint16_t> a(1), b(1);
  std::vector<float> c(1);
  const GemmArgs g = args_over(1, 1, 1, a, b, c);
  CHECK_THROWS_WITH_AS(gemm(kBackend, g, static_cast<GemmKernel>(7)),
                       doctest::Contains("expected a GemmKernel 0-6"), Error);
}

CH02_TEST("the library GEMM (best: kernel 6) stays within the bound") {
  const Problem p = problem(kLayouts[1], {72, 73, 74}, DType::f16, DType::f32, Values::random);
  expect_ok(GemmKernel::best, p);
}

#if CH02_BACKEND_IS_CUDA
// gridDim.z stops at 65535: longer batches are launched in slices (gemm_launch). Cheap on
// a GPU, too slow for the emulator (70000 blocks of fibers).
CH02_TEST("a batch longer than gridDim.z allows is launched in slices") {
  Problem p = problem(kLayouts[0], {2, 3, 4});
  p.batch = 70000;
  expect_ok(GemmKernel::best, p);
  expect_ok(GemmKernel::naive, p);
  p.in = DType::f32;  // the fp32 kernel slices its batches the same way
  expect_ok(GemmKernel::best, p);
}
#endif

#endif
