// emu_bench: how much slower the SIMT emulator runs a kernel than plain host code.
//
// Times a 16x16 shared-memory tiled SGEMM (N x N, default N = 256) under the emulator
// against a naive host triple loop in the same run, checks that both give the same matrix
// (integer-valued inputs: the sums are exact), and prints the ratio (the course's goal is
// at most 20x). Also reports the cost of one barrier round trip per thread.
//
//   emu_bench [--n N] [--reps R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/device.cuh"

namespace halfway::emu {

constexpr int kTile = 16;

__global__ void sgemm_tiled(const float* A, const float* B, float* C, int n) {
  __shared__ float As[kTile][kTile];
  __shared__ float Bs[kTile][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < n; k0 += kTile) {
    As[ty][tx] = A[row * n + k0 + tx];
    Bs[ty][tx] = B[(k0 + ty) * n + col];
    __syncthreads();
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  C[row * n + col] = acc;
}

__global__ void barriers_only(int rounds) {
  for (int r = 0; r < rounds; ++r) __syncthreads();
}

}  // namespace halfway::emu

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void host_sgemm(const float* A, const float* B, float* C, int n) {
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int k = 0; k < n; ++k) acc += A[i * n + k] * B[k * n + j];
      C[i * n + j] = acc;
    }
}

int parse_int(const char* flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (!*text || *end || v < 1 || v > 4096) {
    std::fprintf(stderr, "emu_bench: %s expects an integer from 1 to 4096, found '%s'\n", flag, text);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace halfway::emu;
  int n = 256, reps = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("usage: emu_bench [--n N] [--reps R]\n"
                  "  Times a 16x16 tiled SGEMM under the SIMT emulator against a naive host loop.\n"
                  "  --n N     matrix size, a multiple of 16 (default 256)\n"
                  "  --reps R  repetitions, the fastest counts (default 3)\n");
      return 0;
    }
    if ((a == "--n" || a == "--reps") && i + 1 < argc) {
      (a == "--n" ? n : reps) = parse_int(a.c_str(), argv[++i]);
    } else {
      std::fprintf(stderr, "emu_bench: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (n % kTile != 0) {
    std::fprintf(stderr, "emu_bench: --n expects a multiple of 16, found %d\n", n);
    return 2;
  }
  try {
    std::vector<float> A(n * n), B(n * n), C_host(n * n), C_emu(n * n);
    for (int i = 0; i < n * n; ++i) {
      A[i] = static_cast<float>((i * 7) % 9 - 4);  // integers: exact sums in any order
      B[i] = static_cast<float>((i * 5) % 7 - 3);
    }
    float *dA, *dB, *dC;
    HALFWAY_CUDA_CHECK(cudaMalloc(&dA, n * n * sizeof(float)));
    HALFWAY_CUDA_CHECK(cudaMalloc(&dB, n * n * sizeof(float)));
    HALFWAY_CUDA_CHECK(cudaMalloc(&dC, n * n * sizeof(float)));
    HALFWAY_CUDA_CHECK(cudaMemcpy(dA, A.data(), n * n * sizeof(float), cudaMemcpyHostToDevice));
    HALFWAY_CUDA_CHECK(cudaMemcpy(dB, B.data(), n * n * sizeof(float), cudaMemcpyHostToDevice));

    double t_host = 1e30, t_emu = 1e30;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      host_sgemm(A.data(), B.data(), C_host.data(), n);
      t_host = std::min(t_host, seconds_since(t0));
      t0 = Clock::now();
      HALFWAY_LAUNCH(sgemm_tiled, dim3(n / kTile, n / kTile), dim3(kTile, kTile), 0, 0)(dA, dB, dC, n);
      HALFWAY_CUDA_CHECK(cudaGetLastError());
      HALFWAY_CUDA_CHECK(cudaDeviceSynchronize());  // the launch is queued: the kernel runs here
      t_emu = std::min(t_emu, seconds_since(t0));
    }
    HALFWAY_CUDA_CHECK(cudaMemcpy(C_emu.data(), dC, n * n * sizeof(float), cudaMemcpyDeviceToHost));
    int wrong = 0;
    for (int i = 0; i < n * n; ++i) wrong += C_emu[i] != C_host[i];
    if (wrong) {
      std::fprintf(stderr, "emu_bench: the emulator's SGEMM differs from the host's in %d of %d elements\n", wrong,
                   n * n);
      return 1;
    }

    // One barrier round trip: two fiber switches per thread.
    const int rounds = 200, threads = 256, blocks = 16;
    auto t0 = Clock::now();
    HALFWAY_LAUNCH(barriers_only, blocks, threads, 0, 0)(rounds);
    HALFWAY_CUDA_CHECK(cudaDeviceSynchronize());
    const double t_bar = seconds_since(t0);

    std::printf("emulator order: %s\n", halfway::simt::to_string(halfway::simt::thread_order()).c_str());
    std::printf("tiled SGEMM N=%d: emulator %.1f ms, naive host loop %.1f ms (fastest of %d), results equal\n", n,
                t_emu * 1e3, t_host * 1e3, reps);
    std::printf("ratio emulator / host: %.2fx (goal: at most 20x)\n", t_emu / t_host);
    std::printf("barrier round trip per thread: %.1f ns\n", t_bar / (1.0 * rounds * threads * blocks) * 1e9);
    cudaFree(dA);
    cudaFree(dB);
    cudaFree(dC);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emu_bench: %s\n", e.what());
    return 1;
  }
}
