// The fp8 casts as kernels (quantize.hpp): one value per thread, grid-stride (common/grid.hpp).
#include "common/device.cuh"
#include "common/error.hpp"
#include "common/grid.hpp"
#include "kernels/fp8/fp8.hpp"
#include "kernels/fp8/quantize.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;

__global__ void quantize_kernel(const float* x, std::int64_t n, float scale, Fp8Format format, std::uint8_t* out) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = float_to_fp8_bits(x[i] * scale, format, Saturation::finite);
}

__global__ void dequantize_kernel(const std::uint8_t* q, std::int64_t n, float inv_scale, Fp8Format format,
                                  float* out) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = fp8_bits_to_float(q[i], format) * inv_scale;
}

}  // namespace

void quantize_fp8(const float* x, std::int64_t n, float scale, Fp8Format format, std::uint8_t* out) {
  if (n == 0) return;
  HALFWAY_LAUNCH(quantize_kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(x, n, scale, format, out);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void dequantize_fp8(const std::uint8_t* q, std::int64_t n, float inv_scale, Fp8Format format, float* out) {
  if (n == 0) return;
  HALFWAY_LAUNCH(dequantize_kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(q, n, inv_scale, format, out);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace halfway::HALFWAY_KERNEL_NS
