/// @file gemm_packed.hpp
/// @brief The fp8 GEMM on the cpu at training speed: the reference's bits (gemm_reference.hpp),
/// register-blocked.
///
/// The reference computes each output as one float accumulator over ascending k. This
/// version keeps that order for every output, and only changes which outputs are computed
/// together: both operands are decoded to float once (exactly), B is packed into panels
/// of 16 columns with k outermost, and a block of 4 rows x 16 columns of accumulators
/// walks k from 0 to K, each step adding the exact products a[i][k] * b[k][j] (so the
/// compiler's vector lanes are 16 independent reference sums). Panels are shared out over
/// OpenMP threads; an output is always summed by one thread. Tested equal to the
/// reference bit for bit (chapter 09's tests).
#pragma once

#include <cstdint>

#include "kernels/fp8/gemm_reference.hpp"

namespace halfway::fp8 {

/// As fp8_gemm_reference, the same bits.
void fp8_gemm_packed(const Fp8GemmShape& shape, const std::uint8_t* a, float a_inv_scale, const std::uint8_t* b,
                     float b_inv_scale, float* c);

}  // namespace halfway::fp8
