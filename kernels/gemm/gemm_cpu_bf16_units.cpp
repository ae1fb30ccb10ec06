// The packed GEMM on the CPU's bf16 dot-product units (gemm_cpu_packed.hpp), its tensor
// cores: bf16 inputs, fp32 accumulation, products added in pairs or blocks.
// - avx512bf16: VDPBF16PS. Each fp32 lane i of the result gets acc + a[2i] b[2i] +
//   a[2i+1] b[2i+1]: two products per lane per instruction, 32 per zmm register, against 16
//   for an fp32 FMA. Denormal inputs count as zero, denormal results flush to zero and the
//   rounding is to nearest even, whatever MXCSR says.
// - amx: TDPBF16PS multiplies a 16 x 32 bf16 tile by a 32 x 16 one (stored as 16 rows of
//   16 pairs) into a 16 x 16 fp32 tile. This machine's CPU has no AMX: the path is
//   compiled and checked by the tests only where the CPU has it.
// Inputs are already bf16: packing moves bits, no conversion. Products of two bf16 values
// are exact in fp32, so the only rounding is in the additions, in the units' own order.
#include "common/host_simd.hpp"
#include "kernels/gemm/gemm_cpu_packed.hpp"

#if HALFWAY_HOST_SIMD
#include <immintrin.h>

#include <algorithm>
#include <cstring>

namespace halfway {

namespace {

// Pairs layout (VNNI): dst[(p / 2) * 2R + 2r + p % 2], the two k of a pair side by side,
// as VDPBF16PS reads them and as AMX wants its B tile. K is padded with zeros to kp, the
// missing rows too. Packing only moves bits, with AVX-512BW: 16-bit interleaves or 32-bit
// gathers, not one value at a time (at one value a cycle, packing took a quarter of the
// path's GEMM time: the units do 32 flops a cycle, about 8 cycles of work per packed value
// of the seed model's shapes).
#define HALFWAY_AVX512BW __attribute__((target("avx512f,avx512bw")))

// Pair q of the sliver, one value at a time: the odd last pair, and strides with no unit one.
void pack_pair_plain(const std::uint16_t* src, std::int64_t rs, std::int64_t ps, int rows, int k, int R, int q,
                     std::uint16_t* dst) {
  std::uint16_t* d = dst + std::int64_t(q) * 2 * R;
  for (int r = 0; r < R; ++r)
    for (int e = 0; e < 2; ++e) d[2 * r + e] = r < rows && 2 * q + e < k ? src[r * rs + (2 * q + e) * ps] : 0;
}

template <int R>
HALFWAY_AVX512BW void pack_pairs(DType, const std::uint16_t* src, std::int64_t rs, std::int64_t ps, int rows, int k,
                                 int kp, void* out) {
  static_assert(R == 8 || R == 16 || R == 32, "a sliver of at most 32 rows: one or two zmm of pairs");
  auto* dst = static_cast<std::uint16_t*>(out);
  const int pairs = kp / 2, whole = k / 2;  // pairs with both k inside the matrix
  if (rs == 1) {
    // For each k the sliver's rows are contiguous: interleave k = 2q and 2q + 1 (word j of
    // the result is row j / 2 of the even k for even j, of the odd k for odd j).
    alignas(64) std::uint16_t lo_idx[32], hi_idx[32];
    for (int j = 0; j < 32; ++j) {
      lo_idx[j] = std::uint16_t(j / 2 + (j % 2) * 32);
      hi_idx[j] = std::uint16_t(16 + j / 2 + (j % 2) * 32);
    }
    const __m512i lo = _mm512_load_si512(lo_idx), hi = _mm512_load_si512(hi_idx);
    const __mmask32 in = rows >= 32 ? ~__mmask32(0) : __mmask32((1u << rows) - 1);
    const __mmask32 out_mask = R >= 16 ? ~__mmask32(0) : __mmask32((1u << (2 * R)) - 1);
    for (int q = 0; q < pairs; ++q) {
      const __m512i even = _mm512_maskz_loadu_epi16(in, src + std::int64_t(2 * q) * ps);
      const __m512i odd = 2 * q + 1 < k ? _mm512_maskz_loadu_epi16(in, src + std::int64_t(2 * q + 1) * ps)
                                        : _mm512_setzero_si512();
      std::uint16_t* d = dst + std::int64_t(q) * 2 * R;
      _mm512_mask_storeu_epi16(d, out_mask, _mm512_permutex2var_epi16(even, lo, odd));
      if (R == 32) _mm512_storeu_si512(d + 32, _mm512_permutex2var_epi16(even, hi, odd));
    }
    return;
  }
  if (ps != 1) {
    for (int q = 0; q < pairs; ++q) pack_pair_plain(src, rs, ps, rows, k, R, q, dst);
    return;
  }
  // Each row is contiguous along k: a row's pair is one 32-bit word, gathered 16 rows at a
  // time (the missing rows masked: zeros, never read).
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int r0 = 0; r0 < R; r0 += 16) {
    const int here = std::max(0, std::min(16, rows - r0)), width = std::min(16, R - r0);
    const __mmask16 in = __mmask16((1u << here) - 1), out_mask = __mmask16((1u << width) - 1);
    const __m512i offsets = _mm512_mullo_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(r0)), _mm512_set1_epi32(int(rs)));
    for (int q = 0; q < whole; ++q) {
      const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), in, offsets, src + 2 * q, 2);
      _mm512_mask_storeu_epi32(dst + std::int64_t(q) * 2 * R + 2 * r0, out_mask, v);
    }
  }
  if (whole < pairs) pack_pair_plain(src, rs, ps, rows, k, R, whole, dst);  // k odd: the last pair is padded
}

// avx512bf16: 8 x 32 block, 16 accumulators; per pair of k, one broadcast of a row's pair.
constexpr int kDpMr = 8, kDpNr = 32;
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void micro_dp(int kp, const void* av, const void* bv,
                                                                       float* tile, std::int64_t ldt) {
  const auto* a = static_cast<const std::int32_t*>(av);  // one int32 = one row's pair
  const auto* b = static_cast<const __m512i*>(bv);       // two zmm = 32 columns' pairs
  __m512 c[2 * kDpMr];  // flat and fully unrolled: all in registers
#pragma GCC unroll 32
  for (auto& v : c) v = _mm512_setzero_ps();
  for (int p = 0; p < kp / 2; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b + 2 * p), b1 = (__m512bh)_mm512_load_si512(b + 2 * p + 1);
#pragma GCC unroll 32
    for (int i = 0; i < kDpMr; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(a[p * kDpMr + i]);
      c[2 * i] = _mm512_dpbf16_ps(c[2 * i], ai, b0);
      c[2 * i + 1] = _mm512_dpbf16_ps(c[2 * i + 1], ai, b1);
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < 2 * kDpMr; ++i) _mm512_storeu_ps(tile + i / 2 * ldt + i % 2 * 16, c[i]);
}

// amx: 16 x 32 block = two 16 x 16 C tiles; K in blocks of 32 (one A tile, two B tiles).
constexpr int kAmxMr = 16, kAmxNr = 32, kAmxK = 32;

// A tile layout: dst[(p / 32) * 16 * 32 + r * 32 + p % 32], a tile row = 32 k of one row.
void pack_amx_a(DType, const std::uint16_t* src, std::int64_t rs, std::int64_t ps, int rows, int k, int kp, void* out) {
  auto* dst = static_cast<std::uint16_t*>(out);
  std::memset(dst, 0, sizeof(std::uint16_t) * std::size_t(kp) * kAmxMr);
  for (int r = 0; r < rows; ++r)
    for (int p = 0; p < k; ++p)
      dst[std::int64_t(p / kAmxK) * kAmxMr * kAmxK + r * kAmxK + p % kAmxK] = src[r * rs + p * ps];
}

// The tile configuration (64 bytes, palette 1): tiles 0-1 C (16 rows x 64 bytes), tile 2 A
// (16 x 64 bytes), tiles 3-4 B (16 pair rows x 64 bytes).
struct alignas(64) TileConfig {
  std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-bf16"))) void micro_amx(int kp, const void* av, const void* bv, float* tile, std::int64_t ldt) {
  thread_local bool configured = false;
  if (!configured) {
    TileConfig cfg;
    for (int t = 0; t < 5; ++t) {
      cfg.colsb[t] = 64;
      cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    configured = true;
  }
  const auto* a = static_cast<const unsigned char*>(av);
  const auto* b = static_cast<const unsigned char*>(bv);
  _tile_zero(0);
  _tile_zero(1);
  for (int kb = 0; kb < kp / kAmxK; ++kb) {
    _tile_loadd(2, a + kb * kAmxMr * kAmxK * 2, kAmxK * 2);
    // 16 pair rows of the 32-column pairs layout (128 bytes each): columns 0-15, 16-31
    const unsigned char* bk = b + std::int64_t(kb) * (kAmxK / 2) * kAmxNr * 4;
    _tile_loadd(3, bk, kAmxNr * 4);
    _tile_loadd(4, bk + 64, kAmxNr * 4);
    _tile_dpbf16ps(0, 2, 3);
    _tile_dpbf16ps(1, 2, 4);
  }
  _tile_stored(0, tile, ldt * 4);
  _tile_stored(1, tile + 16, ldt * 4);
}

}  // namespace

const GemmCpuPath gemm_cpu_paths::avx512bf16{"avx512bf16", kDpMr, kDpNr, 2, 2, pack_pairs<kDpMr>, pack_pairs<kDpNr>,
                                             micro_dp, nullptr};
const GemmCpuPath gemm_cpu_paths::amx{"amx", kAmxMr, kAmxNr, kAmxK, 2, pack_amx_a, pack_pairs<kAmxNr>, micro_amx, nullptr};

}  // namespace halfway

#endif  // HALFWAY_HOST_SIMD
