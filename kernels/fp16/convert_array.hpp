/// @file convert_array.hpp
/// @brief Bulk conversions between fp32 and the 16-bit formats in host memory, the fast
/// ones: F16C where the CPU has it (8 halves per instruction), a plain twin with the same
/// bits elsewhere (common/host_simd.hpp), blocks of a few KiB, OpenMP only for large arrays.
///
/// The cpu GEMM rounds its 16-bit output with them (its inputs it converts while packing,
/// kernels/gemm/gemm_cpu_packed.hpp), the layers widen and round their blocks with them,
/// the optimizer rounds the masters into the working copy. (cast.hpp's cpu casts
/// are chapter 01's oracle of the cast kernels instead: one element at a time through
/// exercises 01.1-01.3, counting what the narrow format lost.)
#pragma once

#include <cstdint>

#include "common/dtype.hpp"

namespace halfway {

/// `n` 16-bit values (f16 or bf16 bit patterns) to float, exactly.
void convert_to_f32(DType in, const std::uint16_t* src, float* dst, std::int64_t n);
/// `n` floats to f16 or bf16, round to nearest even (NaN: 0x7fff, as CUDA).
void convert_from_f32(DType out, const float* src, std::uint16_t* dst, std::int64_t n);

/// A rows x cols matrix of 16-bit values (leading dimension ld_src) into a tight fp32 matrix.
void matrix_to_f32(DType in, const std::uint16_t* src, std::int64_t ld_src, float* dst, std::int64_t rows,
                   std::int64_t cols);
/// A tight rows x cols fp32 matrix into 16-bit values with leading dimension ld_dst.
void matrix_from_f32(DType out, const float* src, std::uint16_t* dst, std::int64_t ld_dst, std::int64_t rows,
                     std::int64_t cols);

}  // namespace halfway
