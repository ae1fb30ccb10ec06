// ch09_fp8_gemm_bench: the fp8 GEMM kernel (kernels/fp8/gemm.cu) on cuda against
// cuBLASLt's fp8 GEMM, same operands and layout, fp32 output, TFLOP/s by medians of CUDA
// event timings. Built only with CUDA; tools/gpu/check.sh runs it when there is a GPU.
//
//   ch09_fp8_gemm_bench [--size 4096] [--repeats 10]
//
// Both products in both format mixes (e4m3 x e4m3, e5m2 x e4m3), and the largest
// difference between the two results relative to the largest |C| (the tensor cores of
// the two kernels need not add in the same order).
#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/backend.hpp"
#include "common/cli.hpp"
#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "common/timer.hpp"
#include "kernels/fp8/fp8.hpp"
#include "kernels/fp8/gemm.hpp"

using namespace halfway;
using namespace halfway::fp8;

namespace {

void lt_check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(std::string("cuBLASLt ") + what + " failed with status " + std::to_string(int(s)));
}

cudaDataType_t lt_type(Fp8Format f) { return f == Fp8Format::e4m3 ? CUDA_R_8F_E4M3 : CUDA_R_8F_E5M2; }

/// cuBLASLt's fp8 GEMM on the course's layout. cuBLASLt is column-major and wants fp8 as
/// "TN": row-major C (M x N) is column-major C^T (N x M) = B . A^T, where our B (N x K,
/// row-major) is column-major K x N taken transposed, and our A (M x K) column-major K x M.
class LtFp8Gemm {
 public:
  LtFp8Gemm(const Fp8GemmShape& s, const std::uint8_t* a, const std::uint8_t* b, float* c, float alpha)
      : a_(a), b_(b), c_(c), alpha_(alpha) {
    lt_check(cublasLtCreate(&handle_), "create");
    lt_check(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul desc");
    const cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    lt_check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t), "TRANSA");
    lt_check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n), "TRANSB");
    lt_check(cublasLtMatrixLayoutCreate(&la_, lt_type(s.b_format), s.k, s.n, s.k), "layout of B");
    lt_check(cublasLtMatrixLayoutCreate(&lb_, lt_type(s.a_format), s.k, s.m, s.k), "layout of A");
    lt_check(cublasLtMatrixLayoutCreate(&lc_, CUDA_R_32F, s.n, s.m, s.n), "layout of C");
    HALFWAY_CUDA_CHECK(cudaMalloc(&workspace_, kWorkspace));
    cublasLtMatmulPreference_t pref;
    lt_check(cublasLtMatmulPreferenceCreate(&pref), "preference");
    lt_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &kWorkspace,
                                                  sizeof kWorkspace),
             "workspace preference");
    int found = 0;
    lt_check(cublasLtMatmulAlgoGetHeuristic(handle_, op_, la_, lb_, lc_, lc_, pref, 1, &algo_, &found), "heuristic");
    cublasLtMatmulPreferenceDestroy(pref);
    if (found == 0) throw Error("cuBLASLt has no fp8 algorithm for this shape and these formats on this GPU");
  }
  ~LtFp8Gemm() {
    cudaFree(workspace_);
    cublasLtMatrixLayoutDestroy(la_);
    cublasLtMatrixLayoutDestroy(lb_);
    cublasLtMatrixLayoutDestroy(lc_);
    cublasLtMatmulDescDestroy(op_);
    cublasLtDestroy(handle_);
  }
  LtFp8Gemm(const LtFp8Gemm&) = delete;
  LtFp8Gemm& operator=(const LtFp8Gemm&) = delete;
  void operator()() const {
    const float beta = 0.0f;
    lt_check(cublasLtMatmul(handle_, op_, &alpha_, b_, la_, a_, lb_, &beta, c_, lc_, c_, lc_, &algo_.algo, workspace_,
                            kWorkspace, nullptr),
             "matmul");
  }

 private:
  static constexpr std::size_t kWorkspace = std::size_t(32) << 20;
  const std::uint8_t *a_, *b_;
  float* c_;
  float alpha_;
  cublasLtHandle_t handle_ = nullptr;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, lc_ = nullptr;
  cublasLtMatmulHeuristicResult_t algo_{};
  void* workspace_ = nullptr;
};

/// Median seconds of `repeats` runs after 2 warm-ups.
double median_seconds(const std::function<void()>& work, int repeats) {
  for (int i = 0; i < 2; ++i) work();
  std::vector<double> runs;
  GpuTimer timer;
  for (int i = 0; i < repeats; ++i) {
    timer.start();
    work();
    runs.push_back(timer.stop());
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

std::vector<std::uint8_t> random_fp8(std::size_t n, Fp8Format f, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::uint8_t> v(n);
  for (auto& x : v) x = float_to_fp8_bits(normal(rng) * 16.0f, f, Saturation::finite);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 09: the fp8 GEMM kernel against cuBLASLt's fp8 GEMM (a GPU of compute capability 8.9+)"};
  int size = 4096, repeats = 10;
  app.add_option("-n,--size", size, "M = N = K (a multiple of 16, as cuBLASLt's fp8 GEMM needs)")
      ->check(whole_number(16));
  app.add_option("--repeats", repeats, "timed runs per kernel (the median is reported)")->check(whole_number(1));
  return run_program(argc, argv, app, [&] {
    if (size % 16 != 0) throw UsageError("--size must be a multiple of 16, found " + std::to_string(size));
    if (!gpu_usable()) throw Error("this benchmark needs a GPU: " + gpu_description());
    std::printf("cuda: %s\n", gpu_description().c_str());
    const std::size_t nn = std::size_t(size) * std::size_t(size);
    const double flops = 2.0 * double(size) * double(size) * double(size);
    std::mt19937 rng(9);
    std::printf("%-14s %10s %12s %12s %14s\n", "formats", "size", "ours TF/s", "cuBLASLt TF/s", "max rel diff");
    for (Fp8Format af : {Fp8Format::e4m3, Fp8Format::e5m2}) {
      const Fp8GemmShape s{size, size, size, af, Fp8Format::e4m3};
      const Buf<std::uint8_t> da = device_copy(Backend::cuda, random_fp8(nn, af, rng));
      const Buf<std::uint8_t> db = device_copy(Backend::cuda, random_fp8(nn, Fp8Format::e4m3, rng));
      Buf<float> ours, theirs;
      ours.get(nn, Backend::cuda);
      theirs.get(nn, Backend::cuda);
      const float inv_a = 1.0f / 16.0f, inv_b = 1.0f / 16.0f;
      const double t_ours = median_seconds(
          [&] { fp8_gemm(Backend::cuda, s, da.data(), inv_a, db.data(), inv_b, ours.data()); }, repeats);
      const LtFp8Gemm lt(s, da.data(), db.data(), theirs.data(), inv_a * inv_b);
      const double t_lt = median_seconds([&] { lt(); }, repeats);
      HALFWAY_CUDA_CHECK(cudaDeviceSynchronize());
      const std::vector<float> x = to_host(Backend::cuda, ours.data(), nn), y = to_host(Backend::cuda, theirs.data(), nn);
      double amax = 0, diff = 0;
      for (std::size_t i = 0; i < nn; ++i) {
        amax = std::max(amax, std::fabs(double(y[i])));
        diff = std::max(diff, std::fabs(double(x[i]) - double(y[i])));
      }
      std::printf("%-14s %10d %12.1f %12.1f %14.2e\n", af == Fp8Format::e4m3 ? "e4m3 x e4m3" : "e5m2 x e4m3", size,
                  flops / t_ours * 1e-12, flops / t_lt * 1e-12, amax > 0 ? diff / amax : diff);
    }
  });
}
