// An LD_PRELOAD library that counts the single-precision GEMMs a program runs: calls,
// floating-point operations (2 M N K each) and seconds inside the GEMM, written to stderr
// at exit as one line, "sgemm_counter: calls C flops F seconds S". It wraps both OpenBLAS
// entry points: cblas_sgemm (halfway-train's cpu backend) and the Fortran sgemm_ (what
// PyTorch calls), and forwards each call to libopenblas.so.0 unchanged.
//
//     LD_PRELOAD=build/default/lib/libch07_sgemm_counter.so halfway-train --precision fp32 ...
//
// roofline.py runs both programs under it at two step counts: the difference is one step.
#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

double flops = 0, seconds = 0;
long calls = 0;

void* openblas_symbol(const char* name) {
  // RTLD_NEXT does not reach a library that Python dlopen()ed later (PyTorch's BLAS):
  // open OpenBLAS by name instead.
  static void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_GLOBAL);
  void* f = lib ? dlsym(lib, name) : nullptr;
  if (!f) {
    std::fprintf(stderr, "sgemm_counter: cannot find %s in libopenblas.so.0 (%s)\n", name, dlerror());
    std::abort();
  }
  return f;
}

template <class F>
void timed(double m, double n, double k, F call) {
  const auto t0 = std::chrono::steady_clock::now();
  call();
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  flops += 2 * m * n * k;
  ++calls;
}

struct Report {
  ~Report() { std::fprintf(stderr, "sgemm_counter: calls %ld flops %.6e seconds %.6f\n", calls, flops, seconds); }
} report;

}  // namespace

extern "C" {

using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                            int);
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  static const auto f = reinterpret_cast<CblasSgemm>(openblas_symbol("cblas_sgemm"));
  timed(m, n, k, [&] { f(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
}

using FortranSgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const float*,
                              const float*, const int*, const float*, const int*, const float*, float*, const int*);
void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc) {
  static const auto f = reinterpret_cast<FortranSgemm>(openblas_symbol("sgemm_"));
  timed(*m, *n, *k, [&] { f(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
}

}  // extern "C"
