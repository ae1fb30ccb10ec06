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
/// A = `acc_t<S>` is the type of every sum, statistic and parameter gradient: double for
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
#include "common/device_memory.hpp"
#include "kernels/fp16/half.hpp"
#include "kernels/layers/scalar.hpp"
#include "kernels/gemm/gemm.hpp"

namespace halfway::layers {

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

/// The GemmArgs of a product of S inputs into C of type O (S or `acc_t<S>`), alpha = 1,
/// beta = 0, tight strides for `batch` matrices.
template <class S, class O>
GemmArgs gemm_args_of(Op op_a, Op op_b, int m, int n, int k, const S* a, std::int64_t lda, const S* b,
                      std::int64_t ldb, O* c, std::int64_t ldc, int batch) {
  GemmArgs g = gemm_args(op_a, op_b, m, n, k, batch);
  g.in = dtype_of<S>();
  g.out = std::is_same_v<O, float> ? DType::f32 : dtype_of<S>();
  g.a = a, g.b = b, g.c = c;
  g.lda = lda, g.ldb = ldb, g.ldc = ldc;
  return g;
}

/// C = alpha op(A) op(B) + beta C for a strided batch (row-major, as halfway::GemmArgs),
/// with A, B of the storage type S and C of type O (S, or `acc_t<S>` for fp32 output).
///
/// float and the 16-bit types go through chapter 02's halfway::gemm on the layers' backend:
/// on the cpu OpenBLAS (fp16/bf16 inputs converted exactly to fp32, fp32 accumulation), on
/// emu and cuda the tensor-core kernel for 16-bit inputs and the SIMT fp32 kernel for float.
/// double, only used by the finite-difference tests, runs a plain triple loop in fp64.
/// alpha and beta are A: a double in fp64 mode, so a scale like attention's 1/sqrt(d_h) is
/// not rounded to float there (the same floats as before in every other mode).
template <class S, class O>
void mm(Op op_a, Op op_b, int m, int n, int k, const S* a, std::int64_t lda, const S* b,
        std::int64_t ldb, O* c, std::int64_t ldc, acc_t<S> alpha = 1, acc_t<S> beta = 0,
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
    if (k <= 0) {  // an empty sum: C = beta C (never asked of the device by the layers)
      HALFWAY_EXPECT(!on_device<S>(), "a GEMM with K >= 1 on the device", "K = " + std::to_string(k));
      for (int i = 0; i < batch; ++i)
        for (int r = 0; r < m; ++r)
          for (int col = 0; col < n; ++col) {
            O& out = c[i * stride_c + r * ldc + col];
            out = beta == 0.0f ? O(0.0f) : static_cast<O>(beta * static_cast<float>(out));
          }
      return;
    }
    GemmArgs g = gemm_args_of<S, O>(op_a, op_b, m, n, k, a, lda, b, ldb, c, ldc, batch);
    g.stride_a = stride_a, g.stride_b = stride_b, g.stride_c = stride_c;
    g.alpha = alpha, g.beta = beta;
    gemm(on_device<S>() ? layers_backend() : Backend::cpu, g);
  }
}

/// C = round(op(A) op(B) + bias) for 16-bit S on the cpu backend: `bias` (n values of S,
/// one per column) is added in fp32 to every row before C's one rounding, inside the cpu
/// GEMM's epilogue (GemmArgs::bias), so no fp32 C is written or read. The device GEMMs
/// have no bias epilogue (gemm() refuses one there).
template <class S>
void mm_bias_cpu(Op op_a, Op op_b, int m, int n, int k, const S* a, std::int64_t lda, const S* b,
                 std::int64_t ldb, const S* bias, S* c, std::int64_t ldc) {
  static_assert(is_16bit_v<S>, "the GEMM's bias epilogue takes 16-bit inputs and output");
  if (m <= 0 || n <= 0) return;
  GemmArgs g = gemm_args_of<S, S>(op_a, op_b, m, n, k, a, lda, b, ldb, c, ldc, 1);
  g.bias = bias;
  gemm(Backend::cpu, g);
}

}  // namespace halfway::layers
