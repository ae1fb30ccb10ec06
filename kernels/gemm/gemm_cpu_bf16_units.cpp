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
// as VDPBF16PS reads them and as AMX wants its B tile. K is padded with zeros to kp.
template <int R>
void pack_pairs(DType, const std::uint16_t* src, std::int64_t rs, std::int64_t ps, int rows, int k, int kp, void* out) {
  auto* dst = static_cast<std::uint16_t*>(out);
  std::memset(dst, 0, sizeof(std::uint16_t) * std::size_t(kp) * R);
  if (rs == 1) {
    for (int p = 0; p < k; ++p) {
      std::uint16_t* d = dst + std::int64_t(p / 2) * 2 * R + (p & 1);
      const std::uint16_t* s = src + p * ps;
      for (int r = 0; r < rows; ++r) d[2 * r] = s[r];
    }
  } else {
    for (int r = 0; r < rows; ++r) {
      const std::uint16_t* s = src + r * rs;
      for (int p = 0; p < k; ++p) dst[std::int64_t(p / 2) * 2 * R + 2 * r + (p & 1)] = s[p * ps];
    }
  }
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
                                             micro_dp};
const GemmCpuPath gemm_cpu_paths::amx{"amx", kAmxMr, kAmxNr, kAmxK, 2, pack_amx_a, pack_pairs<kAmxNr>, micro_amx};

}  // namespace halfway

#endif  // HALFWAY_HOST_SIMD
