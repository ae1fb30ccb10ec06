// The GEMM's front door: argument checks, names, and the dispatch by backend.
#include "kernels/gemm/gemm.hpp"

#include <string>

#include "common/dispatch.hpp"
#include "common/error.hpp"

namespace halfway {

namespace {
// The bias epilogue is the cpu packed GEMM's (GemmArgs::bias); the device kernels have none.
void expect_no_device_bias(Backend backend, const GemmArgs& g) {
  HALFWAY_EXPECT(!g.bias || backend == Backend::cpu,
                 "no GEMM bias on emu or cuda (only the cpu backend's packed GEMM adds one)",
                 "a bias on " + std::string(to_string(backend)));
}
}  // namespace

std::string_view to_string(GemmKernel k) {
  switch (k) {
    case GemmKernel::best: return "best";
    case GemmKernel::naive: return "naive";
    case GemmKernel::smem_tiled: return "smem_tiled";
    case GemmKernel::wmma_naive: return "wmma_naive";
    case GemmKernel::wmma_block: return "wmma_block";
    case GemmKernel::wmma_pipeline: return "wmma_pipeline";
    case GemmKernel::wmma_best: return "wmma_best";
  }
  return "?";
}

GemmKernel parse_gemm_kernel(std::string_view name) {
  for (int i = 0; i <= 6; ++i) {
    const auto k = static_cast<GemmKernel>(i);
    if (name == to_string(k) || name == std::to_string(i)) return k;
  }
  throw UsageError("GEMM kernel: expected best, naive, smem_tiled, wmma_naive, wmma_block, "
                   "wmma_pipeline, wmma_best or a number 0-6, found '" + std::string(name) + "'");
}

GemmArgs gemm_args(Op op_a, Op op_b, int m, int n, int k, int batch) {
  GemmArgs g;
  g.op_a = op_a;
  g.op_b = op_b;
  g.m = m;
  g.n = n;
  g.k = k;
  g.batch = batch;
  g.lda = op_a == Op::N ? k : m;
  g.ldb = op_b == Op::N ? n : k;
  g.ldc = n;
  g.stride_a = std::int64_t(m) * k;
  g.stride_b = std::int64_t(k) * n;
  g.stride_c = std::int64_t(m) * n;
  return g;
}

std::string layout_name(const GemmArgs& g) {
  return std::string(g.op_a == Op::N ? "N" : "T") + (g.op_b == Op::N ? "N" : "T");
}

void validate(const GemmArgs& g) {
  const auto num = [](std::int64_t v) { return std::to_string(v); };
  HALFWAY_EXPECT(g.m >= 1 && g.n >= 1 && g.k >= 1, "GEMM sizes M, N, K >= 1",
                 "M = " + num(g.m) + ", N = " + num(g.n) + ", K = " + num(g.k));
  HALFWAY_EXPECT(g.batch >= 1, "a batch of at least 1", "batch = " + num(g.batch));
  HALFWAY_EXPECT(g.in == DType::f16 || g.in == DType::bf16 || g.in == DType::f32,
                 "GEMM inputs f16, bf16 or f32", std::string(to_string(g.in)));
  HALFWAY_EXPECT(g.out == DType::f32 || g.out == g.in,
                 g.in == DType::f32 ? std::string("GEMM output f32 for f32 inputs")
                                    : std::string("GEMM output f32 or ") + to_string(g.in) + " (the input type)",
                 std::string(to_string(g.out)));
  HALFWAY_EXPECT(g.a && g.b && g.c, "non-null A, B and C", "a null pointer");
  const std::int64_t a_cols = g.op_a == Op::N ? g.k : g.m;
  const std::int64_t b_cols = g.op_b == Op::N ? g.n : g.k;
  HALFWAY_EXPECT(g.lda >= a_cols, std::string("lda >= ") + num(a_cols) + " (columns of the stored A, op_a " +
                 (g.op_a == Op::N ? "N" : "T") + ")", "lda = " + num(g.lda));
  HALFWAY_EXPECT(g.ldb >= b_cols, std::string("ldb >= ") + num(b_cols) + " (columns of the stored B, op_b " +
                 (g.op_b == Op::N ? "N" : "T") + ")", "ldb = " + num(g.ldb));
  HALFWAY_EXPECT(g.ldc >= g.n, "ldc >= N = " + num(g.n), "ldc = " + num(g.ldc));
  if (g.batch > 1) {
    const std::int64_t c_size = (g.m - 1) * g.ldc + g.n;
    HALFWAY_EXPECT(g.stride_a >= 0 && g.stride_b >= 0, "batch strides of A and B >= 0",
                   "stride_a = " + num(g.stride_a) + ", stride_b = " + num(g.stride_b));
    HALFWAY_EXPECT(g.stride_c >= c_size,
                   "stride_c >= " + num(c_size) + " (the C matrices of a batch must not overlap)",
                   "stride_c = " + num(g.stride_c));
  }
}

void gemm(Backend backend, const GemmArgs& g, GemmKernel kernel, void* stream) {
  validate(g);
  expect_no_device_bias(backend, g);
  // f32 inputs have one kernel on emu and cuda (sgemm_tiled.cu), not a ladder.
  const bool f32 = g.in == DType::f32;
  if (f32 && backend != Backend::cpu)
    HALFWAY_EXPECT(kernel == GemmKernel::best,
                   "kernel 'best' for f32 inputs (the ladder takes f16/bf16; f32 runs the SIMT fp32 kernel)",
                   std::string(to_string(kernel)));
  if (backend == Backend::cpu) {
    HALFWAY_EXPECT(kernel == GemmKernel::best, "kernel 'best' on the cpu backend (the ladder runs on emu and cuda)",
                   std::string(to_string(kernel)));
    return gemm_cpu(g);
  }
  if (f32) HALFWAY_KERNEL(backend, sgemm_launch(g, stream));
  else HALFWAY_KERNEL(backend, gemm_launch(kernel, g, stream));
}

void gemm_best_variant(Backend backend, const GemmArgs& g, int variant, void* stream) {
  validate(g);
  HALFWAY_EXPECT(backend != Backend::cpu, "backend emu or cuda for kernel 6's variants", "cpu");
  expect_no_device_bias(backend, g);
  HALFWAY_EXPECT(g.in != DType::f32, "f16 or bf16 inputs for kernel 6's variants (f32: gemm() with kernel 'best')", "f32");
  HALFWAY_KERNEL(backend, gemm_launch_variant(variant, g, stream));
}

}  // namespace halfway
