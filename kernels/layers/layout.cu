// Chapter 03's data movement on the device: heads, rounding, accumulation (see layout.hpp).
//
// Every kernel is elementwise over a grid-stride loop: thread i handles elements i,
// i + gridDim.x * blockDim.x, ... (consecutive threads touch consecutive elements, so the
// loads and stores of a warp coalesce). Heads: element (b, h, l, j) of [B, H, L, dh] is
// element (b L + l, c0 + h dh + j) of the rows, so a head's dh columns are contiguous in
// both layouts:
//
//   rows [B L, ld]:   | c0 ... | head 0: dh | head 1: dh | ... |      (one row per token)
//   heads [B, H, L, dh]:  [b][h] is an L x dh block: the head's columns of b's L rows
#include <algorithm>

#include "common/device.cuh"
#include "common/grid.hpp"
#include "kernels/layers/layout.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::int64_t n) { return grid_blocks(n, kThreads); }

// After every launch: a bad launch is an Error here; no wait (the host waits where it
// reads a result, in its copy).
void finish() { HALFWAY_CUDA_CHECK(cudaGetLastError()); }

#define HALFWAY_GRID_STRIDE(i, n)                                                      \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)

// toward_heads: rows -> heads when true, heads -> rows when false.
template <class S>
__global__ void heads_kernel(bool toward_heads, const S* src, S* dst, std::int64_t ld, int c0, int B, int H,
                             int L, int dh) {
  const std::int64_t n = std::int64_t(B) * H * L * dh;
  HALFWAY_GRID_STRIDE(i, n) {
    const int j = int(i % dh);
    const std::int64_t t = i / dh;  // ((b H + h) L + l)
    const int l = int(t % L), h = int((t / L) % H);
    const std::int64_t b = t / (std::int64_t(L) * H);
    const std::int64_t row = (b * L + l) * ld + c0 + std::int64_t(h) * dh + j;
    if (toward_heads) dst[i] = src[row];
    else dst[row] = src[i];
  }
}

template <class S>
__global__ void round_kernel(const float* src, S* dst, std::int64_t n) {
  HALFWAY_GRID_STRIDE(i, n) dst[i] = ::halfway::layers::st<S>(src[i]);
}

template <class S>
__global__ void accumulate_kernel(const S* src, float* acc, std::int64_t n) {
  HALFWAY_GRID_STRIDE(i, n) acc[i] += ::halfway::layers::ld(src[i]);
}

__global__ void fill_zero_kernel(float* p, std::int64_t n) {
  HALFWAY_GRID_STRIDE(i, n) p[i] = 0.0f;
}

template <class S>
void heads(bool toward_heads, const S* src, S* dst, std::int64_t ld, int c0, int B, int H, int L, int dh) {
  const std::int64_t n = std::int64_t(B) * H * L * dh;
  if (n <= 0) return;
  HALFWAY_LAUNCH(heads_kernel<S>, grid_for(n), kThreads, 0, 0)(toward_heads, src, dst, ld, c0, B, H, L, dh);
  finish();
}

}  // namespace

#define HALFWAY_LAYOUT_DEFINE(S)                                                                 \
  void split_heads(const S* src, std::int64_t ld, int c0, S* dst, int B, int H, int L, int dh) { \
    heads<S>(true, src, dst, ld, c0, B, H, L, dh);                                               \
  }                                                                                              \
  void merge_heads(const S* src, S* dst, std::int64_t ld, int c0, int B, int H, int L, int dh) { \
    heads<S>(false, src, dst, ld, c0, B, H, L, dh);                                              \
  }                                                                                              \
  void round_to(const float* src, S* dst, std::int64_t n) {                                      \
    if (n <= 0) return;                                                                          \
    HALFWAY_LAUNCH(round_kernel<S>, grid_for(n), kThreads, 0, 0)(src, dst, n);                   \
    finish();                                                                                    \
  }                                                                                              \
  void accumulate(const S* src, float* acc, std::int64_t n) {                                    \
    if (n <= 0) return;                                                                          \
    HALFWAY_LAUNCH(accumulate_kernel<S>, grid_for(n), kThreads, 0, 0)(src, acc, n);              \
    finish();                                                                                    \
  }

HALFWAY_LAYOUT_DEFINE(float)
HALFWAY_LAYOUT_DEFINE(::halfway::half)
HALFWAY_LAYOUT_DEFINE(::halfway::bfloat16)

void fill_zero(float* p, std::int64_t n) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(fill_zero_kernel, grid_for(n), kThreads, 0, 0)(p, n);
  finish();
}

}  // namespace halfway::HALFWAY_KERNEL_NS
