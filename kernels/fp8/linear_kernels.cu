// The kernels of fp8 training (linear_kernels.hpp): grid-stride loops over the per-value
// code of linear_fp8_math.hpp; a cast's counts reduced per block (block_reduce.cuh), then
// one atomic per block and slot.
#include "common/block_reduce.cuh"
#include "common/device.cuh"
#include "common/error.hpp"
#include "common/grid.hpp"
#include "kernels/fp8/linear_kernels.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;
using fp8::Fp8State;

__global__ void cast_kernel(const bfloat16* x, int rows, int cols, std::int64_t ld, Fp8State s, int slot, bool record,
                            std::uint8_t* out) {
  __shared__ unsigned scratch[32];
  const std::int64_t n = std::int64_t(rows) * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  const float scale = s.scale[slot];
  const Fp8Format format = fp8::slot_format(s, slot);
  fp8::CastTally t;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = fp8::cast_counted(float(x[(i / cols) * ld + i % cols]), scale, format, t);
  if (!record) return;  // the same for every thread of the grid
  const unsigned amax = block_max(t.amax_bits, scratch);
  const unsigned saturated = block_sum(t.saturated, scratch);
  const unsigned underflowed = block_sum(t.underflowed, scratch);
  if (threadIdx.x != 0) return;
  atomicMax(s.step_amax + slot, amax);
  unsigned long long* counts = s.counts + 3 * std::int64_t(slot);
  if (blockIdx.x == 0) atomicAdd(counts, static_cast<unsigned long long>(n));
  if (saturated) atomicAdd(counts + 1, static_cast<unsigned long long>(saturated));
  if (underflowed) atomicAdd(counts + 2, static_cast<unsigned long long>(underflowed));
}

__global__ void transpose_kernel(const std::uint8_t* q, int rows, int cols, std::uint8_t* out) {
  const std::int64_t n = std::int64_t(rows) * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = q[(i % rows) * cols + i / rows];  // out[c][r] = q[r][c]
}

__global__ void amax_kernel(const bfloat16* x, int rows, int cols, std::int64_t ld, Fp8State s, int slot) {
  __shared__ unsigned scratch[32];
  const std::int64_t n = std::int64_t(rows) * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  unsigned m = 0;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const unsigned a = float_to_bits(float(x[(i / cols) * ld + i % cols])) & 0x7FFFFFFFu;
    m = a > m ? a : m;
  }
  m = block_max(m, scratch);
  if (threadIdx.x == 0) atomicMax(s.current_amax + slot, m);
}

__global__ void set_scale_kernel(Fp8State s, int slot) {
  if (threadIdx.x == 0 && blockIdx.x == 0) fp8::set_current_scale(s, slot);
}

__global__ void scale_output_kernel(float* c, std::int64_t n, Fp8State s, int a, int b) {
  const float f = fp8::output_scale(s, a, b);
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) c[i] *= f;
}

__global__ void add_output_kernel(const float* c, int rows, int cols, Fp8State s, int a, int b, float* dw,
                                  std::int64_t ldw) {
  const float f = fp8::output_scale(s, a, b);
  const std::int64_t n = std::int64_t(rows) * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dw[(i / cols) * ldw + i % cols] += c[i] * f;
}

__global__ void round_output_kernel(const float* c, std::int64_t n, Fp8State s, int a, int b, bfloat16* dx) {
  const float f = fp8::output_scale(s, a, b);
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = bfloat16(c[i] * f);
}

__global__ void end_step_kernel(Fp8State s, int slots) {
  const int t = int(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < slots) fp8::end_step_slot(s, t);
}

}  // namespace

void fp8_cast_slot(const bfloat16* x, int rows, int cols, std::int64_t ld, Fp8State s, int slot, bool record,
                   std::uint8_t* out) {
  const std::int64_t n = std::int64_t(rows) * cols;
  if (n == 0) return;
  HALFWAY_LAUNCH(cast_kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(x, rows, cols, ld, s, slot, record, out);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void fp8_transpose_codes(const std::uint8_t* q, int rows, int cols, std::uint8_t* out) {
  const std::int64_t n = std::int64_t(rows) * cols;
  if (n == 0) return;
  HALFWAY_LAUNCH(transpose_kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(q, rows, cols, out);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void fp8_current_scale(const bfloat16* x, int rows, int cols, std::int64_t ld, Fp8State s, int slot) {
  const std::int64_t n = std::int64_t(rows) * cols;
  if (n > 0) HALFWAY_LAUNCH(amax_kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(x, rows, cols, ld, s, slot);
  HALFWAY_LAUNCH(set_scale_kernel, 1, 32, 0, 0)(s, slot);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void fp8_scale_output(float* c, std::int64_t n, Fp8State s, int a, int b) {
  if (n == 0) return;
  HALFWAY_LAUNCH(scale_output_kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(c, n, s, a, b);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void fp8_add_output(const float* c, int rows, int cols, Fp8State s, int a, int b, float* dw, std::int64_t ldw) {
  const std::int64_t n = std::int64_t(rows) * cols;
  if (n == 0) return;
  HALFWAY_LAUNCH(add_output_kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(c, rows, cols, s, a, b, dw, ldw);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void fp8_round_output(const float* c, std::int64_t n, Fp8State s, int a, int b, bfloat16* dx) {
  if (n == 0) return;
  HALFWAY_LAUNCH(round_output_kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(c, n, s, a, b, dx);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void fp8_end_step(Fp8State s, int slots) {
  if (slots == 0) return;
  HALFWAY_LAUNCH(end_step_kernel, grid_blocks(slots, kThreads), kThreads, 0, 0)(s, slots);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace halfway::HALFWAY_KERNEL_NS
