// The fp32 multiply-add peak of ONE core: independent fused multiply-adds in registers, no
// memory. With AVX-512 (where the CPU has it) that is 16 lanes x 2 flops per FMA, on as
// many FMA units as the core has; otherwise the plain loop, which the compiler keeps scalar
// or vectorises with the baseline instruction set. It is the ceiling for any GEMM on this
// core: roofline.py divides a training step's GEMM flops by it. Timed by the thread's cpu
// clock, not the wall's: on a loaded machine the wall clock would count the waits for a core.
// Where the CPU has AVX512-BF16 it also times VDPBF16PS, the bf16 dot-product unit (the
// avx512bf16 GEMM path's instruction: 16 lanes x 2 products x 2 flops), the same way: the
// ceiling of a bf16 GEMM on this core, to set against the fp32 one; and both interleaved,
// which says whether the two share the core's multiply-add pipes (then no mix of the two
// beats the FMAs alone).
#include <time.h>

#include <algorithm>
#include <cstdio>

#include "common/host_simd.hpp"

namespace {
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
}  // namespace

#if HALFWAY_HOST_SIMD
#include <immintrin.h>

namespace {
// 12 accumulators: enough independent chains to cover the FMA latency (4 cycles) on two
// units. The result is printed so the loop cannot be optimised away.
__attribute__((target("avx512f"))) double avx512_gflops(long iterations) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 mul = _mm512_set1_ps(1.0000001f), add = _mm512_set1_ps(1e-8f);
  const double t0 = cpu_seconds();
  for (long k = 0; k < iterations; ++k)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
  const double s = cpu_seconds() - t0;
  float sum = 0;
  for (int i = 0; i < 12; ++i) sum += _mm512_reduce_add_ps(acc[i]);
  std::printf("(checksum %g) ", double(sum));
  return 12.0 * 16 * 2 * double(iterations) / s / 1e9;
}

// The same for VDPBF16PS with `Chains` independent accumulators (its latency is longer
// than an FMA's on some cores: 12 and 24 chains show whether 12 were enough).
template <int Chains>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) double dpbf16_gflops(long iterations) {
  __m512 acc[Chains];
  for (int i = 0; i < Chains; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x2f80);  // 1, 2^-32
  const double t0 = cpu_seconds();
  for (long k = 0; k < iterations; ++k)
#pragma GCC unroll 24
    for (int i = 0; i < Chains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
  const double s = cpu_seconds() - t0;
  float sum = 0;
  for (int i = 0; i < Chains; ++i) sum += _mm512_reduce_add_ps(acc[i]);
  std::printf("(checksum %g) ", double(sum));
  return double(Chains) * 16 * 4 * double(iterations) / s / 1e9;
}

// 8 VDPBF16PS chains and 8 FMA chains interleaved: flops of both per second.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) double mixed_gflops(long iterations) {
  __m512 dp[8], fma[8];
  for (int i = 0; i < 8; ++i) dp[i] = fma[i] = _mm512_set1_ps(float(i));
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x2f80);
  const __m512 mul = _mm512_set1_ps(1.0000001f), add = _mm512_set1_ps(1e-8f);
  const double t0 = cpu_seconds();
  for (long k = 0; k < iterations; ++k)
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      dp[i] = _mm512_dpbf16_ps(dp[i], x, y);
      fma[i] = _mm512_fmadd_ps(fma[i], mul, add);
    }
  const double s = cpu_seconds() - t0;
  float sum = 0;
  for (int i = 0; i < 8; ++i) sum += _mm512_reduce_add_ps(dp[i]) + _mm512_reduce_add_ps(fma[i]);
  std::printf("(checksum %g) ", double(sum));
  return 8.0 * (16 * 4 + 16 * 2) * double(iterations) / s / 1e9;
}
}  // namespace
#endif

namespace {
double plain_gflops(long iterations) {
  float acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = float(i);
  const double t0 = cpu_seconds();
  for (long k = 0; k < iterations; ++k)
    for (float& a : acc) a = a * 1.0000001f + 1e-8f;
  const double s = cpu_seconds() - t0;
  float sum = 0;
  for (float a : acc) sum += a;
  std::printf("(checksum %g) ", double(sum));
  return 12.0 * 2 * double(iterations) / s / 1e9;
}
}  // namespace

int main() {
#if HALFWAY_HOST_SIMD
  if (__builtin_cpu_supports("avx512f")) {
    std::printf("fma_peak: AVX-512, one core: ");
    const double g = avx512_gflops(100000000);
    std::printf("%.1f GFLOP/s\n", g);
    if (__builtin_cpu_supports("avx512bf16")) {
      std::printf("fma_peak: VDPBF16PS (bf16 pairs into fp32), one core, 12 chains: ");
      const double d12 = dpbf16_gflops<12>(50000000);
      std::printf("%.1f GFLOP/s\n", d12);
      std::printf("fma_peak: VDPBF16PS, 24 chains: ");
      const double d24 = dpbf16_gflops<24>(25000000);
      std::printf("%.1f GFLOP/s; bf16 units / fp32 FMA: %.2fx\n", d24, std::max(d12, d24) / g);
      std::printf("fma_peak: VDPBF16PS and FMA interleaved, 8 + 8 chains: ");
      const double mix = mixed_gflops(25000000);
      std::printf("%.1f GFLOP/s (%.2fx the FMAs alone)\n", mix, mix / g);
    }
    return 0;
  }
#endif
  std::printf("fma_peak: plain C++ (no AVX-512 on this CPU or in this build), one core: ");
  const double g = plain_gflops(100000000);
  std::printf("%.1f GFLOP/s\n", g);
}
