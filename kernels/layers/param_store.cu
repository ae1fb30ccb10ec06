// The parameter store's whole-model operations (param_store.hpp): one launch over one
// flat buffer that holds every parameter of the model, instead of one per parameter.
//
//   store_zero:  g[i] = 0                     for every word of the gradient buffer
//   store_round: w[i] = st<S>(m[i])          for every master m (fp32) and working copy w (S)
//                (round to nearest even, as halfway::half / bfloat16 convert; the same bits
//                as the cpu's loop, since st<S> is the one rounding both call)
//   store_accumulate: g[i] = st<S>(ld(g[i]) + p[i])   an fp32 partial gradient p added into
//                gradients kept in S (GradType::storage), one rounding per element
//
// Thread mapping: a grid-stride loop, at most grid_blocks(n, 256) blocks of 256 threads (common/grid.hpp). Thread t of the
// grid handles elements t, t + T, t + 2T, ... (T = gridDim.x * blockDim.x), so the 32
// threads of a warp touch 32 consecutive elements (coalesced loads and stores), and the
// grid covers a model of any size with one launch:
//
//   flat buffer: | param 0 | pad | param 1 | pad | ... |     (views aligned to 128 elements)
//   threads:     0 1 2 ... T-1 0 1 2 ... T-1 0 1 ...        (the padding is zero and stays so)
//
// Zeroing works on 32-bit words, whatever the gradient's type: the buffers are multiples
// of 256 bytes.
#include <algorithm>

#include "common/device.cuh"
#include "common/grid.hpp"
#include "kernels/layers/param_store_kernels.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::int64_t n) { return grid_blocks(n, kThreads); }

__global__ void store_zero_kernel(std::uint32_t* p, std::int64_t n) {
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    p[i] = 0u;
}

template <class S>
__global__ void store_round_kernel(const float* m, S* w, std::int64_t n) {
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    w[i] = ::halfway::layers::st<S>(m[i]);
}

template <class S>
__global__ void store_accumulate_kernel(const float* p, S* g, std::int64_t n) {
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    g[i] = ::halfway::layers::st<S>(::halfway::layers::ld(g[i]) + p[i]);
}

template <class S>
void accumulate_all(const float* partial, S* g, std::int64_t n) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(store_accumulate_kernel<S>, grid_for(n), kThreads, 0, 0)(partial, g, n);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

template <class S>
void round_all(const float* masters, S* working, std::int64_t n) {
  if (n <= 0) return;
  HALFWAY_LAUNCH(store_round_kernel<S>, grid_for(n), kThreads, 0, 0)(masters, working, n);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void store_zero(void* p, std::int64_t bytes) {
  const std::int64_t words = bytes / 4;
  if (words <= 0) return;
  HALFWAY_LAUNCH(store_zero_kernel, grid_for(words), kThreads, 0, 0)(static_cast<std::uint32_t*>(p), words);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

void store_round(const float* masters, ::halfway::half* working, std::int64_t n) { round_all(masters, working, n); }
void store_round(const float* masters, ::halfway::bfloat16* working, std::int64_t n) {
  round_all(masters, working, n);
}
void store_accumulate(const float* partial, ::halfway::half* g, std::int64_t n) { accumulate_all(partial, g, n); }
void store_accumulate(const float* partial, ::halfway::bfloat16* g, std::int64_t n) {
  accumulate_all(partial, g, n);
}

}  // namespace halfway::HALFWAY_KERNEL_NS
