// Clipping on the device (API and semantics: clip.hpp): one grid-stride launch each.
//
//   grid of B = grid_blocks(n, 256) blocks x 256 threads:  element i -> thread i mod (256 B)
//
// clip_scale reads the norm the norm's second pass left in device memory, so the host
// never has to read it in between (every thread reads the same 4 bytes: one broadcast).
#include <algorithm>

#include "common/device.cuh"
#include "common/grid.hpp"
#include "kernels/optim/clip.hpp"
#include "kernels/optim/clip_element.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(std::int64_t n) { return grid_blocks(n, kThreads); }

template <class G>
__global__ void scale_kernel(G* g, std::int64_t n, const float* norm, float max_norm) {
  const float coef = ::halfway::optim::clip_coefficient(*norm, max_norm);
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    g[i] = ::halfway::optim::scaled(g[i], coef);
}

template <class G>
__global__ void clamp_kernel(G* g, std::int64_t n, float v) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    g[i] = ::halfway::optim::clamped(g[i], v);
}

template <class G>
void launch_scale(G* g, std::int64_t n, const float* norm, float max_norm) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(scale_kernel<G>, blocks_for(n), kThreads, 0, 0)(g, n, norm, max_norm);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}
template <class G>
void launch_clamp(G* g, std::int64_t n, float v) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(clamp_kernel<G>, blocks_for(n), kThreads, 0, 0)(g, n, v);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void clip_scale(float* g, std::int64_t n, const float* norm, float m) { launch_scale(g, n, norm, m); }
void clip_scale(half* g, std::int64_t n, const float* norm, float m) { launch_scale(g, n, norm, m); }
void clip_scale(bfloat16* g, std::int64_t n, const float* norm, float m) { launch_scale(g, n, norm, m); }
void clip_clamp(float* g, std::int64_t n, float v) { launch_clamp(g, n, v); }
void clip_clamp(half* g, std::int64_t n, float v) { launch_clamp(g, n, v); }
void clip_clamp(bfloat16* g, std::int64_t n, float v) { launch_clamp(g, n, v); }

}  // namespace halfway::HALFWAY_KERNEL_NS
