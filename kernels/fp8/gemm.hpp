/// @file gemm.hpp
/// @brief The fp8 GEMM on every backend: the cpu reference (gemm_reference.hpp) on cpu,
/// the tensor-core kernel (gemm.cu) on emu and cuda.
///
///     C[m][n] = (sum over k of A[m][k] * B[n][k]) * float(a_inv_scale * b_inv_scale)
///
/// A (M x K) and B (N x K) are row-major fp8 codes, K contiguous in both; C is M x N fp32,
/// row-major. On emu the kernel gives the reference's bits (same summation order, see
/// gemm.cu); on a GPU the tensor cores add in their own order and precision.
#pragma once

#include <cstdint>

#include "common/backend.hpp"
#include "common/hd.hpp"
#include "kernels/fp8/gemm_reference.hpp"

HALFWAY_KERNEL_API(
  /// The kernel's wrapper: device pointers; inv_scale = a_inv_scale * b_inv_scale in float.
  void fp8_gemm_kernel(const halfway::fp8::Fp8GemmShape& shape, const std::uint8_t* a, const std::uint8_t* b,
                       float inv_scale, float* c);
)

namespace halfway::fp8 {

/// The fp8 GEMM on `backend` (device memory on emu and cuda). Throws halfway::Error on a
/// negative size, or a shape too large for the kernel's grid.
void fp8_gemm(Backend backend, const Fp8GemmShape& shape, const std::uint8_t* a, float a_inv_scale,
              const std::uint8_t* b, float b_inv_scale, float* c);

}  // namespace halfway::fp8
