// Draws rng.hpp's numbers on the GPU, for rng_gpu_test.cpp to compare with the host's.
// Compiled with --use_fast_math (see CMakeLists.txt): the strictest case, since rng.hpp
// promises results that fast-math approximations and fma contraction cannot change.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "common/error.hpp"
#include "common/rng.hpp"

namespace {
__global__ void draw(std::uint64_t seed, std::uint64_t offset0, int n, float p_drop,
                     std::uint32_t* bits, float* uniform, float* normal, unsigned char* keep) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const std::uint64_t offset = offset0 + static_cast<std::uint64_t>(i);
  bits[i] = halfway::rng::bits(seed, offset);
  uniform[i] = halfway::rng::uniform(seed, offset);
  normal[i] = halfway::rng::normal(seed, offset);
  keep[i] = halfway::rng::keep(seed, offset, p_drop) ? 1 : 0;
}

template <class T>
struct DeviceArray {
  T* p = nullptr;
  explicit DeviceArray(int n) { HALFWAY_CUDA_CHECK(cudaMalloc(&p, sizeof(T) * n)); }
  ~DeviceArray() { cudaFree(p); }
  std::vector<T> get(int n) const {
    std::vector<T> out(n);
    HALFWAY_CUDA_CHECK(cudaMemcpy(out.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost));
    return out;
  }
};
}  // namespace

namespace halfway::testing {

// Offsets offset0 .. offset0 + n - 1 of `seed`, drawn on the GPU.
void rng_draw_on_gpu(std::uint64_t seed, std::uint64_t offset0, int n, float p_drop,
                     std::vector<std::uint32_t>& bits, std::vector<float>& uniform,
                     std::vector<float>& normal, std::vector<unsigned char>& keep) {
  DeviceArray<std::uint32_t> b(n);
  DeviceArray<float> u(n), z(n);
  DeviceArray<unsigned char> k(n);
  draw<<<(n + 255) / 256, 256>>>(seed, offset0, n, p_drop, b.p, u.p, z.p, k.p);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
  HALFWAY_CUDA_CHECK(cudaDeviceSynchronize());
  bits = b.get(n);
  uniform = u.get(n);
  normal = z.get(n);
  keep = k.get(n);
}

}  // namespace halfway::testing
