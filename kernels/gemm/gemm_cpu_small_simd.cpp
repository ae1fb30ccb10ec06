// The small-product path's SIMD register loops (gemm_cpu_small.hpp): AVX2 (8 lanes) and
// AVX-512F (16 lanes). One body for both, written with GCC's vector types and compiled
// into each path's target function; rows of the result across the lanes, a block of up
// to 8 accumulators (rows x vectors) kept in registers for the whole K loop. Each lane's
// sum runs from +0 through p = 0, 1, ... like the plain twin's (gemm_cpu_small.cpp): the
// products are exact, so an FMA rounds where the twin's multiply-then-add does. (This file
// is compiled with -ffp-contract=fast, which turns acc + a * b into that FMA and, with
// exact products, changes no bits.)
#include "common/host_simd.hpp"
#include "kernels/gemm/gemm_cpu_small.hpp"

#if HALFWAY_HOST_SIMD
#include <algorithm>
#include <cstring>

#include "kernels/gemm/gemm_cpu_f16c.hpp"

namespace halfway {

namespace {

using namespace gemm_f16c;

// Row by row, 8 values per F16C instruction (the bulk conversions' per-call checks cost
// more than a row of 5 values takes).
HALFWAY_AVX2 void widen_rows(DType in, const std::uint16_t* src, std::int64_t ld, int rows, int cols, float* dst,
                             int ldd) {
  for (int r = 0; r < rows; ++r) convert_run(in, src + r * ld, dst + std::int64_t(r) * ldd, cols);
}

// Blocks of 8 rows (the last one completed with zero rows) by 8 columns, converted and
// transposed in registers; the last columns (cols past a multiple of 8) one value at a time.
HALFWAY_AVX2 void widen_transposed(DType in, const std::uint16_t* src, std::int64_t ld, int rows, int cols,
                                   float* dst, int ldd) {
  const int cols8 = cols / 8 * 8;
  for (int r0 = 0; r0 < rows; r0 += 8) {
    const int n = std::min(8, rows - r0);
    for (int c0 = 0; c0 < cols8; c0 += 8) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = i < n ? load_convert8(in, src + (r0 + i) * ld + c0) : _mm256_setzero_ps();
      transpose8(v);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + std::int64_t(c0 + j) * ldd + r0, v[j]);
    }
    for (int c = cols8; c < cols; ++c)
      for (int i = 0; i < n; ++i) dst[std::int64_t(c) * ldd + r0 + i] = convert1(in, src[(r0 + i) * ld + c]);
  }
}

using V8 = float __attribute__((vector_size(32)));
using V16 = float __attribute__((vector_size(64)));

// Rows i < R and vectors q < NV (NV * lanes columns from b and t) of one entry.
template <class V, int R, int NV>
[[gnu::always_inline]] inline void block(int k, int ldt, const float* a, std::int64_t a_rs, std::int64_t a_ps,
                                         const float* b, float* t) {
  constexpr int lanes = sizeof(V) / sizeof(float);
  V acc[R][NV] = {};
  for (int p = 0; p < k; ++p) {
    V bv[NV];
    for (int q = 0; q < NV; ++q) std::memcpy(&bv[q], b + std::int64_t(p) * ldt + q * lanes, sizeof(V));
    for (int r = 0; r < R; ++r) {
      const float ar = a[r * a_rs + p * a_ps];
      for (int q = 0; q < NV; ++q) acc[r][q] += ar * bv[q];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < NV; ++q) std::memcpy(t + r * std::int64_t(ldt) + q * lanes, &acc[r][q], sizeof(V));
}

// The last `rest` rows (0 < rest < R) of a column strip: one block of exactly that many.
template <class V, int R, int NV>
[[gnu::always_inline]] inline void last_rows(int rest, int k, int ldt, const float* a, std::int64_t a_rs,
                                             std::int64_t a_ps, const float* b, float* t) {
  if constexpr (R > 1) {
    if (rest == R - 1) return block<V, R - 1, NV>(k, ldt, a, a_rs, a_ps, b, t);
    last_rows<V, R - 1, NV>(rest, k, ldt, a, a_rs, a_ps, b, t);
  }
}

// All m rows of NV vectors' columns: blocks of 8 / NV rows, then the rest.
template <class V, int NV>
[[gnu::always_inline]] inline void rows(int m, int k, int ldt, const float* a, std::int64_t a_rs, std::int64_t a_ps,
                                        const float* b, float* t) {
  constexpr int R = 8 / NV;
  int i = 0;
  for (; i + R <= m; i += R) block<V, R, NV>(k, ldt, a + i * a_rs, a_rs, a_ps, b, t + std::int64_t(i) * ldt);
  if (i < m) last_rows<V, R, NV>(m - i, k, ldt, a + i * a_rs, a_rs, a_ps, b, t + std::int64_t(i) * ldt);
}

// The entry: pairs of vectors of columns, then a last single one.
template <class V>
[[gnu::always_inline]] inline void entry(int m, int k, int ldt, const float* a, std::int64_t a_rs, std::int64_t a_ps,
                                         const float* b, float* t) {
  constexpr int lanes = sizeof(V) / sizeof(float);
  int j = 0;
  for (; j + 2 * lanes <= ldt; j += 2 * lanes) rows<V, 2>(m, k, ldt, a, a_rs, a_ps, b + j, t + j);
  if (j < ldt) rows<V, 1>(m, k, ldt, a, a_rs, a_ps, b + j, t + j);
}

HALFWAY_AVX2 void run_avx2(int m, int k, int ldt, const float* a, std::int64_t a_rs,
                                                  std::int64_t a_ps, const float* b, float* t) {
  entry<V8>(m, k, ldt, a, a_rs, a_ps, b, t);
}

HALFWAY_AVX512 void run_avx512(int m, int k, int ldt, const float* a, std::int64_t a_rs,
                                                            std::int64_t a_ps, const float* b, float* t) {
  entry<V16>(m, k, ldt, a, a_rs, a_ps, b, t);
}

}  // namespace

const GemmSmallKernel gemm_small_kernels::avx2{8, widen_rows, widen_transposed, run_avx2};
const GemmSmallKernel gemm_small_kernels::avx512{16, widen_rows, widen_transposed, run_avx512};

}  // namespace halfway

#endif  // HALFWAY_HOST_SIMD
