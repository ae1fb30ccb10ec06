/// @file gemm_reference.hpp
/// @brief The cpu fp8 GEMM: the reference every fp8 GEMM kernel of the course is held to.
///
///     C[m][n] = (sum over k of A[m][k] * B[n][k]) * float(a_inv_scale * b_inv_scale)
///
/// A is M x K and B is N x K, both row-major fp8 codes (K contiguous in both: the "TN"
/// layout Hopper's fp8 tensor cores and cuBLASLt's fp8 GEMM require; for a Linear layer,
/// y = x W^T with A = x and B = W as stored). Formats: e4m3 x e4m3 (the forward pass) and
/// e5m2 x e4m3 (the backward's gradient operand times a weight or activation); any mix is
/// accepted. C is M x N fp32, row-major.
///
/// Exact to the last bit because its order of operations is fixed:
/// 1. each product A[m][k] * B[n][k] is formed in float, exactly: two fp8 significands have
///    at most 4 bits each, so the product has at most 8, and its magnitude lies between
///    2^-25 (2^-9 * 2^-16) and 448 * 57344 < 2^25, inside float's normal range;
/// 2. the products are added into one float accumulator, starting from +0, in ascending
///    k, each addition rounded to nearest even (so fma(a, b, acc) gives the same bits as
///    acc + a * b: the product is exact);
/// 3. the inverse scales are multiplied in float first (one rounding; exact for powers of
///    two), and the sum is multiplied by that product (a second rounding).
/// A NaN operand gives NaN; e5m2's infinities give inf or NaN as float arithmetic does.
/// The fp8 GEMM kernel (gemm.cu) keeps this order on the emulator, whose fp8 mma.sync adds
/// its products one by one in ascending k (common/emu/mma_fp8.hpp), and equals this
/// reference bit for bit there. A GPU's tensor core adds groups of products in its own
/// order and precision, so on a GPU it differs in the last bits.
#pragma once

#include <array>
#include <cstdint>

#include "kernels/fp8/format.hpp"

namespace halfway::fp8 {

/// The shape and formats of one fp8 GEMM.
struct Fp8GemmShape {
  std::int64_t m = 0, n = 0, k = 0;
  Fp8Format a_format = Fp8Format::e4m3;
  Fp8Format b_format = Fp8Format::e4m3;
};

/// Throws halfway::Error on a negative size of `shape`.
void check_fp8_gemm_shape(const Fp8GemmShape& shape);
/// Every fp8 code's float value in `format` (exact), indexed by the code.
std::array<float, 256> fp8_decode_table(Fp8Format format);

/// C (m x n) = A (m x k) . B^T (B is n x k) * (a_inv_scale * b_inv_scale), in the order
/// the header states. Throws halfway::Error on a negative size.
void fp8_gemm_reference(const Fp8GemmShape& shape, const std::uint8_t* a, float a_inv_scale, const std::uint8_t* b,
                        float b_inv_scale, float* c);

}  // namespace halfway::fp8
