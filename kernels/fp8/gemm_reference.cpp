// The cpu fp8 GEMM (gemm_reference.hpp): decode tables, then the fixed summation order.
#include "kernels/fp8/gemm_reference.hpp"

#include <array>
#include <string>

#include "common/error.hpp"
#include "kernels/fp8/fp8.hpp"

namespace halfway::fp8 {

void check_fp8_gemm_shape(const Fp8GemmShape& s) {
  if (s.m < 0 || s.n < 0 || s.k < 0)
    throw Error("fp8 GEMM: expected sizes >= 0, found m " + std::to_string(s.m) + ", n " + std::to_string(s.n) +
                ", k " + std::to_string(s.k));
}

std::array<float, 256> fp8_decode_table(Fp8Format format) {
  std::array<float, 256> t{};
  for (int b = 0; b < 256; ++b) t[static_cast<std::size_t>(b)] = fp8_bits_to_float(static_cast<std::uint8_t>(b), format);
  return t;
}

void fp8_gemm_reference(const Fp8GemmShape& s, const std::uint8_t* a, float a_inv_scale, const std::uint8_t* b,
                        float b_inv_scale, float* c) {
  check_fp8_gemm_shape(s);
  const std::array<float, 256> ta = fp8_decode_table(s.a_format), tb = fp8_decode_table(s.b_format);
  const float inv_scale = a_inv_scale * b_inv_scale;
  for (std::int64_t i = 0; i < s.m; ++i) {
    const std::uint8_t* row = a + i * s.k;
    for (std::int64_t j = 0; j < s.n; ++j) {
      const std::uint8_t* col = b + j * s.k;
      float acc = 0.0f;
      for (std::int64_t p = 0; p < s.k; ++p) acc += ta[row[p]] * tb[col[p]];
      c[i * s.n + j] = acc * inv_scale;
    }
  }
}

}  // namespace halfway::fp8
