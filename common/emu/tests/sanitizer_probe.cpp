// Kernels with (and without) the bugs the sanitizer presets must catch, run one per
// process by check_probe.cmake: it reads the source lines printed here and looks for them
// in the sanitizer's report.
//   race / race-fixed              shared memory read without / with a barrier (tsan)
//   legacy-warp / legacy-warp-fixed warp-synchronous reduction without / with __syncwarp (tsan)
//   oob-shared / oob-global        writes past a __shared__ array / a cudaMalloc'd buffer (asan)
//   clean                          barriers, shuffles, atomics, WMMA: nothing to report
#include <cstdio>
#include <cstring>
#include <string>

#include "common/device.cuh"

namespace halfway::emu {

constexpr int kRaceWrite = __LINE__ + 4;
constexpr int kRaceRead = __LINE__ + 5;
__global__ void neighbour_sum(float* out, int with_barrier) {
  __shared__ float s[64];
  s[threadIdx.x] = static_cast<float>(threadIdx.x);
  if (with_barrier) __syncthreads();
  out[threadIdx.x] = s[(threadIdx.x + 1) % 64];
}

constexpr int kWarpWrite = __LINE__ + 12;
constexpr int kWarpRead = __LINE__ + 9;
__global__ void warp_reduce_legacy(float* out, int with_syncwarp) {
  __shared__ float s[64];
  volatile float* v = s;
  const unsigned t = threadIdx.x;
  v[t] = static_cast<float>(t);
  v[t + 32] = 0.0f;
  __syncthreads();  // from here on, legacy code relied on the warp's lockstep
  for (int off = 16; off > 0; off /= 2) {
    const float x = v[t] + v[t + off];
    if (with_syncwarp) __syncwarp();
    v[t] = x;
    if (with_syncwarp) __syncwarp();
  }
  if (t == 0) out[0] = v[0];
}

constexpr int kOobShared = __LINE__ + 4;
__global__ void shared_overflow(float* out) {
  __shared__ float s[32];
  float* p = s;               // through a pointer, as kernels index (UBSan would see s[32] first)
  p[threadIdx.x + 1] = 1.0f;  // thread 31 writes s[32]
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x];
}

constexpr int kOobGlobal = __LINE__ + 2;
__global__ void global_overflow(float* out, int n) {
  out[threadIdx.x + 1] = static_cast<float>(n);  // thread n-1 writes out[n]
}

__global__ void clean(float* out, int* counter, const __half* a) {
  using namespace nvcuda;
  __shared__ float s[64];
  const int t = threadIdx.x;
  s[t] = static_cast<float>(t);
  __syncthreads();
  float v = s[63 - t];
  for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
  atomicAdd(counter, 1);
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, a, 16);
  wmma::fill_fragment(acc, 0.0f);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(out + 64 + 256 * (t / 32), acc, 16, wmma::mem_row_major);
  __syncthreads();
  if (t % 32 == 0) out[t / 32] = v;
}

}  // namespace halfway::emu

int main(int argc, char** argv) {
  using namespace halfway::emu;
  const std::string mode = argc > 1 ? argv[1] : "";
  float* out = nullptr;
  int* counter = nullptr;
  __half* a = nullptr;
  HALFWAY_CUDA_CHECK(cudaMalloc(&out, 64 * sizeof(float)));
  float* big = nullptr;
  HALFWAY_CUDA_CHECK(cudaMalloc(&big, (64 + 512) * sizeof(float)));
  HALFWAY_CUDA_CHECK(cudaMalloc(&counter, sizeof(int)));
  HALFWAY_CUDA_CHECK(cudaMalloc(&a, 256 * sizeof(__half)));
  HALFWAY_CUDA_CHECK(cudaMemset(a, 0, 256 * sizeof(__half)));
  HALFWAY_CUDA_CHECK(cudaMemset(counter, 0, sizeof(int)));
  HALFWAY_CUDA_CHECK(cudaMemset(out, 0, 64 * sizeof(float)));
  std::setvbuf(stdout, nullptr, _IONBF, 0);  // the line numbers must get out before a crash
  if (mode == "race" || mode == "race-fixed") {
    std::printf("PROBE LINES %d %d\n", kRaceWrite, kRaceRead);
    HALFWAY_LAUNCH(neighbour_sum, 1, 64, 0, 0)(out, mode == "race-fixed");
  } else if (mode == "legacy-warp" || mode == "legacy-warp-fixed") {
    std::printf("PROBE LINES %d %d\n", kWarpWrite, kWarpRead);
    HALFWAY_LAUNCH(warp_reduce_legacy, 1, 32, 0, 0)(out, mode == "legacy-warp-fixed");
  } else if (mode == "oob-shared") {
    std::printf("PROBE LINES %d %d\n", kOobShared, kOobShared);
    HALFWAY_LAUNCH(shared_overflow, 1, 32, 0, 0)(out);
  } else if (mode == "oob-global") {
    std::printf("PROBE LINES %d %d\n", kOobGlobal, kOobGlobal);
    HALFWAY_LAUNCH(global_overflow, 1, 64, 0, 0)(out, 64);
  } else if (mode == "clean") {
    std::printf("PROBE LINES 0 0\n");
    HALFWAY_LAUNCH(clean, 1, 64, 0, 0)(big, counter, a);
  } else {
    std::fprintf(stderr, "usage: %s race|race-fixed|legacy-warp|legacy-warp-fixed|oob-shared|oob-global|clean\n",
                 argv[0]);
    return 2;
  }
  std::fflush(stdout);
  float host[64];
  HALFWAY_CUDA_CHECK(cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost));
  std::printf("out[0] = %g\n", static_cast<double>(host[0]));
  cudaFree(out);
  cudaFree(big);
  cudaFree(counter);
  cudaFree(a);
  return 0;
}
