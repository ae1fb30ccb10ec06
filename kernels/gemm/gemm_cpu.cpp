// The cpu backend of the course's GEMM: fp16/bf16 inputs converted to fp32, then OpenBLAS.
//
// Why this is exact enough: an fp16 (or bf16) value converts to fp32 exactly, so sgemm
// sees precisely the numbers a tensor core sees; a product of two fp16 values has at most
// 22 significant bits and is exact in fp32 too. What differs between backends is only the
// order (and, on tensor cores, the rounding) of the fp32 additions, which the tests bound.
//
// Why this is fast: sgemm at 1024^3 does 2.1 GFLOP in O(N^3) time while the conversions
// touch 3 N^2 elements once. Done naively (one scalar conversion at a time, a fresh
// zero-filled std::vector per call) they still cost a visible fraction of sgemm on a
// laptop; done with F16C (8 halves per instruction), over blocks of a few KiB, on all
// cores, into buffers that are reused from call to call, they cost a few percent
// (kernels/fp16/convert_array.hpp).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "common/error.hpp"
#include "kernels/fp16/convert_array.hpp"
#include "kernels/gemm/gemm.hpp"

namespace halfway {

namespace {

// A per-thread scratch buffer that only grows, never zero-filled: a new 4 MiB
// std::vector per call would cost page faults and a memset on every GEMM.
struct Scratch {
  std::unique_ptr<float[]> data;
  std::size_t size = 0;
  float* get(std::size_t n) {
    if (n > size) {
      data.reset(new float[n]);
      size = n;
    }
    return data.get();
  }
};

}  // namespace

void gemm_cpu(const GemmArgs& g) {
  validate(g);
  HALFWAY_EXPECT(g.lda < (1ll << 31) && g.ldb < (1ll << 31) && g.ldc < (1ll << 31),
                 "leading dimensions below 2^31 (cblas takes int)", "lda " + std::to_string(g.lda) +
                 ", ldb " + std::to_string(g.ldb) + ", ldc " + std::to_string(g.ldc));
  if (g.in == DType::f32) {  // fp32 inputs (chapter 03's fp32 mode): straight to sgemm
    const auto ta = g.op_a == Op::N ? CblasNoTrans : CblasTrans;
    const auto tb = g.op_b == Op::N ? CblasNoTrans : CblasTrans;
    for (int i = 0; i < g.batch; ++i)
      cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, static_cast<const float*>(g.a) + i * g.stride_a,
                  int(g.lda), static_cast<const float*>(g.b) + i * g.stride_b, int(g.ldb), g.beta,
                  static_cast<float*>(g.c) + i * g.stride_c, int(g.ldc));
    return;
  }
  thread_local Scratch sa, sb, sc;
  // The stored shapes: A is m x k or k x m, B is k x n or n x k.
  const std::int64_t a_rows = g.op_a == Op::N ? g.m : g.k, a_cols = g.op_a == Op::N ? g.k : g.m;
  const std::int64_t b_rows = g.op_b == Op::N ? g.k : g.n, b_cols = g.op_b == Op::N ? g.n : g.k;
  float* fa = sa.get(std::size_t(a_rows * a_cols));
  float* fb = sb.get(std::size_t(b_rows * b_cols));
  const bool c_f32 = g.out == DType::f32;
  float* fc = c_f32 ? nullptr : sc.get(std::size_t(g.m) * std::size_t(g.n));
  const auto* a16 = static_cast<const std::uint16_t*>(g.a);
  const auto* b16 = static_cast<const std::uint16_t*>(g.b);

  for (int i = 0; i < g.batch; ++i) {
    // A stride of 0 broadcasts one matrix to the whole batch: convert it once.
    if (i == 0 || g.stride_a != 0) matrix_to_f32(g.in, a16 + i * g.stride_a, g.lda, fa, a_rows, a_cols);
    if (i == 0 || g.stride_b != 0) matrix_to_f32(g.in, b16 + i * g.stride_b, g.ldb, fb, b_rows, b_cols);
    const auto ta = g.op_a == Op::N ? CblasNoTrans : CblasTrans;
    const auto tb = g.op_b == Op::N ? CblasNoTrans : CblasTrans;
    if (c_f32) {
      float* c = static_cast<float*>(g.c) + i * g.stride_c;
      // With beta == 0 OpenBLAS writes C without reading it (a NaN in C does not survive;
      // a test checks this contract).
      cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, fa, int(a_cols), fb, int(b_cols),
                  g.beta, c, int(g.ldc));
    } else {
      auto* c16 = static_cast<std::uint16_t*>(g.c) + i * g.stride_c;
      if (g.beta != 0.0f) matrix_to_f32(g.out, c16, g.ldc, fc, g.m, g.n);
      cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, fa, int(a_cols), fb, int(b_cols),
                  g.beta, fc, g.n);
      matrix_from_f32(g.out, fc, c16, g.ldc, g.m, g.n);
    }
  }
}

}  // namespace halfway
