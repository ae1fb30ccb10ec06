// The cpu backend of the course's GEMM: OpenBLAS sgemm for fp32 inputs, the course's own
// packed GEMM for fp16 and bf16 inputs (gemm_cpu_packed.hpp).
//
// Why not sgemm for 16-bit inputs too: sgemm reads fp32, so every 16-bit matrix would need
// a separate conversion pass into an fp32 buffer before each product (and the result one
// after it): memory traffic and, for the attention's batches of tiny matrices, a call per
// matrix. The packed GEMM converts while it packs, which it has to do anyway, and on CPUs
// with bf16 dot-product units it feeds them bf16 directly.
//
// Why this is exact enough: an fp16 (or bf16) value converts to fp32 exactly and the
// product of two of them has at most 22 significant bits, exact in fp32: the fp32 paths
// differ from sgemm only in the order of the fp32 additions, the bf16 units in how they add
// (chapter 02's tests bound both against fp64).
#include <cblas.h>

#include <string>

#include "common/error.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/gemm/gemm.hpp"
#include "kernels/gemm/gemm_cpu_packed.hpp"

namespace halfway {

void gemm_cpu(const GemmArgs& g) {
  validate(g);
  // The next host loops' thread rule depends on whose threads may still be spinning.
  last_gemm_team.store(g.in == DType::f32 ? GemmTeam::openblas : GemmTeam::openmp, std::memory_order_relaxed);
  if (g.in != DType::f32) return gemm_cpu_packed(g, gemm_cpu_path(cpu_isa(), g.in));
  // fp32 inputs (chapter 03's fp32 mode): straight to sgemm
  HALFWAY_EXPECT(!g.bias, "no GEMM bias with f32 inputs (sgemm has no epilogue; the packed GEMM of 16-bit inputs adds one)",
                 "a bias with f32 inputs");
  HALFWAY_EXPECT(g.lda < (1ll << 31) && g.ldb < (1ll << 31) && g.ldc < (1ll << 31),
                 "leading dimensions below 2^31 (cblas takes int)", "lda " + std::to_string(g.lda) +
                 ", ldb " + std::to_string(g.ldb) + ", ldc " + std::to_string(g.ldc));
  const auto ta = g.op_a == Op::N ? CblasNoTrans : CblasTrans;
  const auto tb = g.op_b == Op::N ? CblasNoTrans : CblasTrans;
  // With beta == 0 OpenBLAS writes C without reading it (a NaN in C does not survive; a
  // test checks this contract).
  for (int i = 0; i < g.batch; ++i)
    cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, static_cast<const float*>(g.a) + i * g.stride_a,
                int(g.lda), static_cast<const float*>(g.b) + i * g.stride_b, int(g.ldb), g.beta,
                static_cast<float*>(g.c) + i * g.stride_c, int(g.ldc));
}

}  // namespace halfway
