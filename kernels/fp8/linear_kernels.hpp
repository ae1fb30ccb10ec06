/// @file linear_kernels.hpp
/// @brief The kernels of fp8 training (linear_fp8.hpp) on emu and cuda: the counted casts
/// of a bf16 tensor with a slot's scale, current scaling's amax, the
/// codes' transpose,
/// the GEMM outputs' inverse scales, and the end-of-step scale update. The cpu runs the
/// same per-value code (linear_fp8_math.hpp) in host loops (linear_fp8.cpp).
#pragma once

#include <cstdint>

#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"
#include "kernels/fp8/linear_fp8_math.hpp"

HALFWAY_KERNEL_API(
  /// out = fp8(x * scale[slot]): x [rows, cols] with row stride ld, out dense. `record`:
  /// the amax into step_amax[slot], the counts too.
  void fp8_cast_slot(const halfway::bfloat16* x, int rows, int cols, std::int64_t ld, halfway::fp8::Fp8State s,
                     int slot, bool record, std::uint8_t* out);
  /// out [cols, rows] = q [rows, cols] transposed (fp8 codes).
  void fp8_transpose_codes(const std::uint8_t* q, int rows, int cols, std::uint8_t* out);
  /// Current scaling: scale[slot] from the amax of x.
  void fp8_current_scale(const halfway::bfloat16* x, int rows, int cols, std::int64_t ld, halfway::fp8::Fp8State s,
                         int slot);
  /// c[i] *= output_scale(a, b).
  void fp8_scale_output(float* c, std::int64_t n, halfway::fp8::Fp8State s, int a, int b);
  /// dw[r][j] (row stride ldw) += c[r][j] * output_scale(a, b), c dense [rows, cols].
  void fp8_add_output(const float* c, int rows, int cols, halfway::fp8::Fp8State s, int a, int b, float* dw,
                      std::int64_t ldw);
  /// dx[i] = bf16(c[i] * output_scale(a, b)).
  void fp8_round_output(const float* c, std::int64_t n, halfway::fp8::Fp8State s, int a, int b,
                        halfway::bfloat16* dx);
  /// end_step_slot for slots [0, slots).
  void fp8_end_step(halfway::fp8::Fp8State s, int slots);
)
