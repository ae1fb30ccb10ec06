// The register-blocked cpu fp8 GEMM (gemm_packed.hpp).
#include "kernels/fp8/gemm_packed.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/host_simd.hpp"
#include "kernels/fp8/fp8.hpp"

namespace halfway::fp8 {

namespace {
constexpr int kNr = 16;  // columns of accumulators: one panel

/// c rows [i0, i0 + Rows) x panel columns [j0, j0 + cols), cols <= kNr: each output's sum
/// from +0 over ascending k, as the reference (the j lanes are independent sums).
template <int Rows>
__attribute__((always_inline)) inline void block(const float* a, const float* panel, std::int64_t k, std::int64_t i0,
                                                 std::int64_t j0, int cols, float inv_scale, float* c, std::int64_t n) {
  float acc[Rows][kNr] = {};
  const float* ai[Rows];
  for (int i = 0; i < Rows; ++i) ai[i] = a + (i0 + i) * k;
  for (std::int64_t p = 0; p < k; ++p) {
    const float* bp = panel + p * kNr;
    for (int i = 0; i < Rows; ++i) {
      const float av = ai[i][p];
#pragma GCC unroll 16
      for (int j = 0; j < kNr; ++j) acc[i][j] += av * bp[j];
    }
  }
  for (int i = 0; i < Rows; ++i)
    for (int j = 0; j < cols; ++j) c[(i0 + i) * n + j0 + j] = acc[i][j] * inv_scale;
}

/// Panel q of c: blocks of Rows rows, then the rows left one at a time.
template <int Rows>
__attribute__((always_inline)) inline void panels(const float* a, const float* b, const Fp8GemmShape& s,
                                                  float inv_scale, float* c, std::int64_t q) {
  const float* panel = b + q * s.k * kNr;
  const std::int64_t j0 = q * kNr;
  const int cols = int(std::min<std::int64_t>(kNr, s.n - j0));
  std::int64_t i0 = 0;
  for (; i0 + Rows <= s.m; i0 += Rows) block<Rows>(a, panel, s.k, i0, j0, cols, inv_scale, c, s.n);
  for (; i0 < s.m; ++i0) block<1>(a, panel, s.k, i0, j0, cols, inv_scale, c, s.n);
}

/// The plain path: 2 rows x 16 columns of accumulators (8 SSE registers).
void panel_plain(const float* a, const float* b, const Fp8GemmShape& s, float inv_scale, float* c, std::int64_t q) {
  panels<2>(a, b, s, inv_scale, c, q);
}

#if HALFWAY_HOST_SIMD
/// The same code compiled for AVX-512: 8 rows x 16 columns (8 zmm registers). Each lane
/// still adds its exact products in ascending k: the plain path's bits.
__attribute__((target("avx512f"))) void panel_avx512(const float* a, const float* b, const Fp8GemmShape& s,
                                                     float inv_scale, float* c, std::int64_t q) {
  panels<8>(a, b, s, inv_scale, c, q);
}
#endif
}  // namespace

void fp8_gemm_packed(const Fp8GemmShape& s, const std::uint8_t* a, float a_inv_scale, const std::uint8_t* b,
                     float b_inv_scale, float* c) {
  check_fp8_gemm_shape(s);
  if (s.m == 0 || s.n == 0) return;
  const float inv_scale = a_inv_scale * b_inv_scale;
  if (s.k == 0) {  // empty sums: +0 * inv_scale, as the reference
    std::fill(c, c + s.m * s.n, 0.0f * inv_scale);
    return;
  }
  const std::array<float, 256> ta = fp8_decode_table(s.a_format), tb = fp8_decode_table(s.b_format);
  static thread_local std::vector<float> fa, fb;
  fa.resize(std::size_t(s.m * s.k));
  const std::int64_t panels_n = (s.n + kNr - 1) / kNr;
  fb.assign(std::size_t(panels_n * s.k * kNr), 0.0f);  // columns past n: zeros (never stored)
  for (std::int64_t i = 0; i < s.m * s.k; ++i) fa[std::size_t(i)] = ta[a[i]];
  for (std::int64_t j = 0; j < s.n; ++j) {
    float* panel = fb.data() + (j / kNr) * s.k * kNr + j % kNr;
    for (std::int64_t p = 0; p < s.k; ++p) panel[p * kNr] = tb[b[j * s.k + p]];
  }
  const float* pa = fa.data();
  const float* pb = fb.data();
  const bool threads = s.m * s.n * s.k >= (std::int64_t(1) << 18);
  auto* run = &panel_plain;
#if HALFWAY_HOST_SIMD
  if (simd::has(simd::Isa::avx512)) run = &panel_avx512;
#endif
#pragma omp parallel for schedule(static) if (threads)
  for (std::int64_t q = 0; q < panels_n; ++q) run(pa, pb, s, inv_scale, c, q);
}

}  // namespace halfway::fp8
