// Array casts between fp32 and fp16/bf16: the CUDA kernels (run by nvcc on a GPU and by
// the SIMT emulator on the CPU) and their host API (cast.hpp).
//
// Each thread converts two neighbouring values: one 8-byte load of two floats and one
// 4-byte store of a half2 (or the reverse), when the pointers are aligned for it; else
// one value per thread. A grid-stride loop covers any length with a bounded grid.
// The narrowing casts also count what was lost: each thread counts its own values, the
// block sums them with the course's block reduction (common/block_reduce.cuh), and thread
// 0 of each block adds the block's sums to three global counters (integer additions: the
// same totals in any order). The counters are the caller's workspace (nothing is allocated
// here; cast_cpu.cpp zeroes them before and reads them after). A cast never waits: it
// checks its launch and returns.
//
// The conversions are chapter 01's hand-written ones on the GPU too (not the hardware's
// cvt instructions): they agree on every value, and so the bits agree even for NaN.
#include "common/block_reduce.cuh"
#include "common/device.cuh"
#include "common/grid.hpp"
#include "common/error.hpp"
#include "kernels/fp16/cast.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;

struct alignas(8) Float2 {
  float x, y;
};

struct ToHalf {
  using Pair = half2;
  __device__ static std::uint16_t convert(float f) { return float_to_half_bits(f); }
  __device__ static unsigned outcome(float f, std::uint16_t h) { return cast_outcome_f16(f, h); }
  __device__ static Pair pair(std::uint16_t a, std::uint16_t b) {
    return Pair{half::from_bits(a), half::from_bits(b)};
  }
};
struct ToBf16 {
  using Pair = bfloat162;
  __device__ static std::uint16_t convert(float f) { return float_to_bf16_bits(f); }
  __device__ static unsigned outcome(float f, std::uint16_t b) { return cast_outcome_bf16(f, b); }
  __device__ static Pair pair(std::uint16_t a, std::uint16_t b) {
    return Pair{bfloat16::from_bits(a), bfloat16::from_bits(b)};
  }
};

// Converts in[i] into out[i], and tallies what happened in the thread's counters.
template <class Op>
__device__ void narrow_one(const float* in, std::uint16_t* out, std::size_t i, unsigned* tally) {
  const float x = in[i];
  const std::uint16_t y = Op::convert(x);
  out[i] = y;
  const unsigned what = Op::outcome(x, y);
  tally[0] += what & 1u;
  tally[1] += (what >> 1) & 1u;
  tally[2] += (what >> 2) & 1u;
}

template <class Op>
__device__ void narrow(const float* in, std::uint16_t* out, std::size_t n, bool vector,
                       unsigned long long* counts, unsigned* scratch) {
  unsigned tally[3] = {0, 0, 0};
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  if (vector) {
    const std::size_t pairs = n / 2;
    const Float2* in2 = reinterpret_cast<const Float2*>(in);
    typename Op::Pair* out2 = reinterpret_cast<typename Op::Pair*>(out);
    for (std::size_t i = first; i < pairs; i += stride) {
      const Float2 v = in2[i];  // one 8-byte load
      const std::uint16_t a = Op::convert(v.x), b = Op::convert(v.y);
      out2[i] = Op::pair(a, b);  // one 4-byte store
      const unsigned what = Op::outcome(v.x, a) | (Op::outcome(v.y, b) << 3);
      tally[0] += (what & 1u) + ((what >> 3) & 1u);
      tally[1] += ((what >> 1) & 1u) + ((what >> 4) & 1u);
      tally[2] += ((what >> 2) & 1u) + ((what >> 5) & 1u);
    }
    if (first == 0 && n % 2 == 1) narrow_one<Op>(in, out, n - 1, tally);  // the odd last one
  } else {
    for (std::size_t i = first; i < n; i += stride) narrow_one<Op>(in, out, i, tally);
  }

  if (counts == nullptr) return;  // the same for every thread of the launch
  for (int k = 0; k < 3; ++k) {
    const unsigned block_total = block_sum(tally[k], scratch);  // every thread takes part
    if (threadIdx.x == 0 && block_total != 0)
      atomicAdd(&counts[k], static_cast<unsigned long long>(block_total));
  }
}

__global__ void f32_to_f16_kernel(const float* in, half* out, std::size_t n, bool vector,
                                  unsigned long long* counts) {
  __shared__ unsigned scratch[kBlockReduceSlots];
  narrow<ToHalf>(in, reinterpret_cast<std::uint16_t*>(out), n, vector, counts, scratch);
}

__global__ void f32_to_bf16_kernel(const float* in, bfloat16* out, std::size_t n, bool vector,
                                   unsigned long long* counts) {
  __shared__ unsigned scratch[kBlockReduceSlots];
  narrow<ToBf16>(in, reinterpret_cast<std::uint16_t*>(out), n, vector, counts, scratch);
}

__global__ void f16_to_f32_kernel(const half* in, float* out, std::size_t n, bool vector) {
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  if (vector) {
    const half2* in2 = reinterpret_cast<const half2*>(in);
    Float2* out2 = reinterpret_cast<Float2*>(out);
    for (std::size_t i = first; i < n / 2; i += stride) {
      const half2 v = in2[i];
      out2[i] = Float2{half_bits_to_float(v.x.bits), half_bits_to_float(v.y.bits)};
    }
    if (first == 0 && n % 2 == 1) out[n - 1] = half_bits_to_float(in[n - 1].bits);
  } else {
    for (std::size_t i = first; i < n; i += stride) out[i] = half_bits_to_float(in[i].bits);
  }
}

__global__ void bf16_to_f32_kernel(const bfloat16* in, float* out, std::size_t n, bool vector) {
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  if (vector) {
    const bfloat162* in2 = reinterpret_cast<const bfloat162*>(in);
    Float2* out2 = reinterpret_cast<Float2*>(out);
    for (std::size_t i = first; i < n / 2; i += stride) {
      const bfloat162 v = in2[i];
      out2[i] = Float2{bf16_bits_to_float(v.x.bits), bf16_bits_to_float(v.y.bits)};
    }
    if (first == 0 && n % 2 == 1) out[n - 1] = bf16_bits_to_float(in[n - 1].bits);
  } else {
    for (std::size_t i = first; i < n; i += stride) out[i] = bf16_bits_to_float(in[i].bits);
  }
}

// Vectorised when the float side is 8-byte aligned and the 16-bit side 4-byte aligned.
bool aligned_pairs(const void* wide, const void* narrow) {
  return reinterpret_cast<std::uintptr_t>(wide) % 8 == 0 &&
         reinterpret_cast<std::uintptr_t>(narrow) % 4 == 0;
}

// One value (or pair) per thread, up to the grid cap (common/grid.hpp).
unsigned blocks_for(std::size_t items) { return grid_blocks(std::int64_t(items), kThreads); }

// One narrowing cast; `counts` (null or three zeroed counters in device memory) gets the
// tallies.
template <class Out>
void narrow_launch(void (*kernel)(const float*, Out*, std::size_t, bool, unsigned long long*), const float* in,
                   Out* out, std::size_t n, unsigned long long* counts) {
  if (n == 0) return;
  const bool vector = aligned_pairs(in, out);
  HALFWAY_LAUNCH(kernel, blocks_for(vector ? n / 2 : n), kThreads, 0, 0)(in, out, n, vector, counts);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void cast_f32_to_f16(const float* in, half* out, std::size_t n, unsigned long long* counts) {
  narrow_launch(f32_to_f16_kernel, in, out, n, counts);
}

void cast_f32_to_bf16(const float* in, bfloat16* out, std::size_t n, unsigned long long* counts) {
  narrow_launch(f32_to_bf16_kernel, in, out, n, counts);
}

void cast_f16_to_f32(const half* in, float* out, std::size_t n) {
  if (n == 0) return;
  const bool vector = aligned_pairs(out, in);
  HALFWAY_LAUNCH(f16_to_f32_kernel, blocks_for(vector ? n / 2 : n), kThreads, 0, 0)
  (in, out, n, vector);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void cast_bf16_to_f32(const bfloat16* in, float* out, std::size_t n) {
  if (n == 0) return;
  const bool vector = aligned_pairs(out, in);
  HALFWAY_LAUNCH(bf16_to_f32_kernel, blocks_for(vector ? n / 2 : n), kThreads, 0, 0)
  (in, out, n, vector);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace halfway::HALFWAY_KERNEL_NS
