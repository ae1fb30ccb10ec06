/// @file mma_fp8.hpp
/// @brief The PTX instruction `mma.sync.aligned.m16n8k32.row.col.f32.<a>.<b>.f32` for the
/// emulator: a warp-wide 16x8x32 product of 8-bit floats (e4m3/e5m2, sm_89+), fp32 in and out.
///
/// Unlike WMMA, mma.sync has a documented register layout (PTX ISA, "Matrix Fragments for
/// mma.m16n8k32" with .e4m3/.e5m2 types). With g = lane / 4 and t = lane % 4, a lane holds
///
///     a[0..3]  (4 x .b32, 4 fp8 each)  A[row][col], row-major 16 x 32:
///              register r, byte j:     row = g + 8 * (r % 2), col = 4 t + j + 16 * (r / 2)
///     b[0..1]  (2 x .b32, 4 fp8 each)  B[k][col], 32 x 8 (".col": k contiguous):
///              register r, byte j:     k = 4 t + j + 16 r,    col = g
///     c/d[0..3] (4 x f32)              C[row][col], 16 x 8:
///              element i:              row = g + 8 * (i / 2),  col = 2 t + i % 2
///
/// byte j of a register being bits 8j..8j+7 (the lowest address when it is loaded from
/// memory). So a row-major A and an N x K B (both K contiguous) give each register by one
/// 4-byte load.
///
/// What it computes, in this emulator, for each of the 16 x 8 outputs:
///
///     acc = C[row][col];  for k = 0, 1, ..., 31: acc = acc + A[row][k] * B[k][col];  D = acc
///
/// each product exact in float (two fp8 significands of at most 4 bits: 8 bits, magnitudes
/// 2^-32 ... 2^32), each addition rounded to nearest even in fp32, in ascending k. That is
/// a model, not NVIDIA's: how a tensor core adds the 32 products and C inside one
/// instruction (the tree, the width of its internal sum, where it rounds or truncates) is
/// not public, and on Hopper fp8 sums are known to keep fewer bits than fp32. The model is
/// the cpu fp8 GEMM reference's order (kernels/fp8/gemm_reference.hpp), chosen so that a
/// kernel which feeds k-blocks in ascending order reproduces that reference bit for bit.
///
/// The formats are template arguments: functions from an fp8 byte to its float value,
/// supplied by the library that defines the formats (kernels/fp8/fp8.hpp), so that the
/// emulator and the reference decode with the same code. The call is warp-collective like
/// every mma.sync: all 32 lanes of a full warp, else a KernelError naming the line.
#pragma once

#include <cstdint>
#include <source_location>

#include "common/emu/scheduler.hpp"
#include "common/emu/wmma.hpp"

namespace halfway::simt::ptx {

/// An fp8 decoder: byte -> float (NaN and e5m2's infinities included).
using Fp8Decode = float (*)(std::uint8_t);

namespace detail {

struct MmaFp8Args {
  float* d;
  const std::uint32_t* a;
  const std::uint32_t* b;
  const float* c;
};

inline std::uint8_t byte_of(std::uint32_t reg, int j) { return static_cast<std::uint8_t>(reg >> (8 * j)); }

template <Fp8Decode DecodeA, Fp8Decode DecodeB>
HALFWAY_EMU_NO_TSAN void mma_fp8_complete(void* const* data, unsigned, const char*, int) {
  auto arg = [&](int lane) -> const MmaFp8Args& { return *static_cast<const MmaFp8Args*>(data[lane]); };
  float A[16][32], B[32][8], C[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    const MmaFp8Args& x = arg(lane);
    for (int r = 0; r < 4; ++r)
      for (int j = 0; j < 4; ++j) A[g + 8 * (r % 2)][4 * t + j + 16 * (r / 2)] = DecodeA(byte_of(x.a[r], j));
    for (int r = 0; r < 2; ++r)
      for (int j = 0; j < 4; ++j) B[4 * t + j + 16 * r][g] = DecodeB(byte_of(x.b[r], j));
    for (int i = 0; i < 4; ++i) C[g + 8 * (i / 2)][2 * t + i % 2] = x.c[i];  // all read before any d is written
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
      float acc = C[row][col];
      for (int k = 0; k < 32; ++k) acc += A[row][k] * B[k][col];  // exact product, one fp32 rounding per add
      arg(lane).d[i] = acc;
    }
  }
}

template <Fp8Decode DecodeA, Fp8Decode DecodeB>
inline const ::halfway::simt::detail::WarpOpKind mma_fp8_kind{"mma.sync.m16n8k32 (fp8)",
                                                               &mma_fp8_complete<DecodeA, DecodeB>};

}  // namespace detail

/// d = a * b + c for one warp: `mma.sync.aligned.m16n8k32.row.col.f32.<A>.<B>.f32 d, a, b, c`
/// with the formats that DecodeA and DecodeB decode. d may be c.
template <Fp8Decode DecodeA, Fp8Decode DecodeB>
void mma_m16n8k32_fp8(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2], const float (&c)[4],
                      std::source_location loc = std::source_location::current()) {
  if (nvcuda::wmma::detail::warp_lanes_present() != 0xffffffffu)
    ::halfway::simt::detail::kernel_fail("mma.sync needs all 32 lanes of a full warp, and this warp is not full",
                                         loc.file_name(), static_cast<int>(loc.line()));
  detail::MmaFp8Args args{d, a, b, c};
  ::halfway::simt::detail::warp_collective(detail::mma_fp8_kind<DecodeA, DecodeB>, 0xffffffffu, &args, loc);
}

}  // namespace halfway::simt::ptx
