/// @file precision.hpp
/// @brief Chapter 03's scalar types: what a layer stores (S) and what it computes in (A),
/// and the one matrix product every layer calls.
///
/// Every layer of chapter 03 is a template on its storage type S:
///
/// | S                 | mode   | activations, gradients | GEMM inputs | inside softmax, LN, loss | parameters (master, grad) |
/// |-------------------|--------|------------------------|-------------|--------------------------|---------------------------|
/// | `double`          | check  | fp64                   | fp64        | fp64                     | fp64                      |
/// | `float`           | fp32   | fp32                   | fp32        | fp32                     | fp32                      |
/// | `halfway::half`   | mixed  | fp16                   | fp16        | fp32                     | fp32 (+ fp16 working copy)|
/// | `halfway::bfloat16` | mixed | bf16                  | bf16        | fp32                     | fp32 (+ bf16 working copy)|
///
/// A = acc_t<S> is the type of every sum, statistic and parameter gradient: double for
/// double (the finite-difference tests), float otherwise. A 16-bit S is a real 16-bit
/// value in memory (2 bytes), so overflow to inf and underflow to 0 happen on the CPU
/// exactly as on a GPU.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "common/dtype.hpp"
#include "common/error.hpp"
#include "kernels/fp16/half.hpp"
#include "kernels/layers/scalar.hpp"
#include "kernels/gemm/gemm.hpp"

namespace halfway::layers {

/// Where the layers compute: Backend::cpu (the default: the host implementation) or
/// Backend::emu (the kernels of kernels/layers and chapter 02's GEMM under the emulator,
/// whose device memory is host memory, so the layers' buffers serve both). Set it for a
/// scope with BackendScope; double always runs on the cpu. cuda needs device buffers, which
/// the layers do not have yet.
inline Backend& layers_backend() {
  static thread_local Backend backend = Backend::cpu;
  return backend;
}
/// Runs the layers on `b` until the end of the scope.
struct BackendScope {
  Backend saved;
  explicit BackendScope(Backend b) : saved(layers_backend()) {
    HALFWAY_EXPECT(b != Backend::cuda, "the layers on cpu or emu", "cuda (the layers' buffers are host memory)");
    layers_backend() = b;
  }
  ~BackendScope() { layers_backend() = saved; }
  BackendScope(const BackendScope&) = delete;
  BackendScope& operator=(const BackendScope&) = delete;
};

/// True when an op on S runs its emu kernel (a build with the emulator, Backend::emu, not double).
template <class S>
inline bool on_emu() {
#if HALFWAY_CH03_HAVE_EMU
  return !std::is_same_v<S, double> && layers_backend() == Backend::emu;
#else
  return false;
#endif
}

/// The course's DType of a storage type (double has none: it never leaves the cpu).
template <class S>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<S, half>) return DType::f16;
  else if constexpr (std::is_same_v<S, bfloat16>) return DType::bf16;
  else return DType::f32;
}

/// "fp64", "fp32", "fp16" or "bf16": for messages and logs.
template <class S>
constexpr const char* precision_name() {
  if constexpr (std::is_same_v<S, double>) return "fp64";
  else if constexpr (std::is_same_v<S, float>) return "fp32";
  else if constexpr (std::is_same_v<S, half>) return "fp16";
  else return "bf16";
}

/// A buffer that only grows: a layer's outputs, saved activations and workspace live in
/// these and are reused by every step instead of being reallocated.
template <class T>
struct Buf {
  std::vector<T> v;
  /// At least n elements (contents kept when it does not grow).
  T* get(std::size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
  }
  T* data() { return v.data(); }
  const T* data() const { return v.data(); }
  /// Bytes held: what this buffer costs in memory.
  std::size_t bytes() const { return v.size() * sizeof(T); }
};

/// C = alpha op(A) op(B) + beta C for a strided batch (row-major, as halfway::GemmArgs),
/// with A, B of the storage type S and C of type O (S, or acc_t<S> for fp32 output).
///
/// float and the 16-bit types go through chapter 02's halfway::gemm on the cpu backend
/// (OpenBLAS: fp16/bf16 inputs are converted exactly to fp32 and accumulated in fp32).
/// double, only used by the finite-difference tests, runs a plain triple loop in fp64.
template <class S, class O>
void mm(Op op_a, Op op_b, int m, int n, int k, const S* a, std::int64_t lda, const S* b,
        std::int64_t ldb, O* c, std::int64_t ldc, float alpha = 1.0f, float beta = 0.0f,
        int batch = 1, std::int64_t stride_a = 0, std::int64_t stride_b = 0,
        std::int64_t stride_c = 0) {
  static_assert(std::is_same_v<O, S> || std::is_same_v<O, acc_t<S>>, "C is S or acc_t<S>");
  if (m <= 0 || n <= 0 || batch <= 0) return;
  if constexpr (std::is_same_v<S, double>) {
    for (int i = 0; i < batch; ++i) {
      const double* ai = a + i * stride_a;
      const double* bi = b + i * stride_b;
      double* ci = c + i * stride_c;
      for (int r = 0; r < m; ++r)
        for (int col = 0; col < n; ++col) {
          double s = 0;
          for (int p = 0; p < k; ++p) {
            const double av = op_a == Op::N ? ai[r * lda + p] : ai[p * lda + r];
            const double bv = op_b == Op::N ? bi[p * ldb + col] : bi[col * ldb + p];
            s += av * bv;
          }
          double& out = ci[r * ldc + col];
          out = alpha * s + (beta == 0.0f ? 0.0 : beta * out);
        }
    }
  } else {
    if (k <= 0) {  // an empty sum: C = beta C
      for (int i = 0; i < batch; ++i)
        for (int r = 0; r < m; ++r)
          for (int col = 0; col < n; ++col) {
            O& out = c[i * stride_c + r * ldc + col];
            out = beta == 0.0f ? O(0.0f) : static_cast<O>(beta * static_cast<float>(out));
          }
      return;
    }
    GemmArgs g;
    g.op_a = op_a;
    g.op_b = op_b;
    g.m = m;
    g.n = n;
    g.k = k;
    g.in = dtype_of<S>();
    g.out = std::is_same_v<O, float> ? DType::f32 : dtype_of<S>();
    g.a = a;
    g.lda = lda;
    g.b = b;
    g.ldb = ldb;
    g.c = c;
    g.ldc = ldc;
    g.alpha = alpha;
    g.beta = beta;
    g.batch = batch;
    g.stride_a = stride_a;
    g.stride_b = stride_b;
    g.stride_c = stride_c;
    // Chapter 02's kernels take fp16/bf16 inputs: an fp32 GEMM stays on the cpu.
    gemm(on_emu<S>() && is_16bit_v<S> ? Backend::emu : Backend::cpu, g);
  }
}

}  // namespace halfway::layers
