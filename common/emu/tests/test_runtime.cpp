// The emulated runtime API, constant memory, cp.async primitives and the thread order setting.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/emu/tests/helpers.hpp"

namespace halfway::emu {

__constant__ float g_coefficients[4];

__global__ void use_constants(float* out) { out[threadIdx.x] = g_coefficients[threadIdx.x % 4] * 2.0f; }

// Stages 16-byte chunks through shared memory with cp.async, zero-filling a ragged tail.
__global__ void pipeline_copy(const float* in, float* out, int n) {
  __shared__ __align__(16) float s[64];
  const int t = threadIdx.x;  // 16 threads, 4 floats each
  const int valid = n - 4 * t;
  const int bytes_missing = valid >= 4 ? 0 : (valid <= 0 ? 16 : 16 - 4 * valid);
  __pipeline_memcpy_async(&s[4 * t], in + 4 * t, 16, bytes_missing);
  __pipeline_commit();
  __pipeline_wait_prior(0);
  __syncthreads();
  for (int k = 0; k < 4; ++k) out[4 * t + k] = s[4 * ((t + 1) % 16) + k];
}

__global__ void pipeline_misaligned(const float* in) {
  __shared__ __align__(16) float s[8];
  __pipeline_memcpy_async(&s[0], in + 1, 16);
}

__global__ void order_probe(int* seq, int* counter) { seq[threadIdx.x] = atomicAdd(counter, 1); }

}  // namespace halfway::emu

namespace halfway::emu_test {
using namespace ::halfway::emu;

TEST_CASE("emu runtime: malloc memcpy memset free and their errors") {
  float* p = nullptr;
  REQUIRE(simt::cudaMalloc(&p, 64 * sizeof(float)) == simt::cudaSuccess);
  CHECK(reinterpret_cast<std::uintptr_t>(p) % 256 == 0);
  std::vector<float> h(64, 3.0f), back(64, 0.0f);
  CHECK(simt::cudaMemcpy(p, h.data(), 64 * sizeof(float), simt::cudaMemcpyHostToDevice) == simt::cudaSuccess);
  CHECK(simt::cudaMemset(p, 0, 16 * sizeof(float)) == simt::cudaSuccess);
  CHECK(simt::cudaMemcpyAsync(back.data(), p, 64 * sizeof(float), simt::cudaMemcpyDeviceToHost, nullptr) ==
        simt::cudaSuccess);
  CHECK(back[15] == 0.0f);
  CHECK(back[16] == 3.0f);
  CHECK(simt::cudaMemcpy(back.data(), p, 4, static_cast<simt::cudaMemcpyKind>(9)) ==
        simt::cudaErrorInvalidMemcpyDirection);
  CHECK(simt::cudaGetLastError() == simt::cudaErrorInvalidMemcpyDirection);
  CHECK(simt::cudaFree(p) == simt::cudaSuccess);
  CHECK(simt::cudaFree(p) == simt::cudaErrorInvalidValue);  // freed twice
  CHECK(simt::cudaPeekAtLastError() == simt::cudaErrorInvalidValue);
  CHECK(simt::cudaGetLastError() == simt::cudaErrorInvalidValue);
  CHECK(simt::cudaGetLastError() == simt::cudaSuccess);
  CHECK(simt::cudaFree(nullptr) == simt::cudaSuccess);
  CHECK(std::string(simt::cudaGetErrorString(simt::cudaSuccess)) == "no error");
  CHECK(std::string(simt::cudaGetErrorString(simt::cudaErrorMemoryAllocation)) == "out of memory");
  CHECK(simt::cudaDeviceSynchronize() == simt::cudaSuccess);
}

TEST_CASE("emu runtime: streams events and device properties") {
  simt::cudaStream_t s = nullptr;
  REQUIRE(simt::cudaStreamCreate(&s) == simt::cudaSuccess);
  simt::cudaEvent_t a = nullptr, b = nullptr;
  REQUIRE(simt::cudaEventCreate(&a) == simt::cudaSuccess);
  REQUIRE(simt::cudaEventCreate(&b) == simt::cudaSuccess);
  float ms = -1.0f;
  CHECK(simt::cudaEventElapsedTime(&ms, a, b) == simt::cudaErrorInvalidResourceHandle);  // not recorded
  CHECK(simt::cudaEventRecord(a, s) == simt::cudaSuccess);
  CHECK(simt::cudaEventRecord(b, s) == simt::cudaSuccess);
  CHECK(simt::cudaEventSynchronize(b) == simt::cudaSuccess);
  CHECK(simt::cudaEventElapsedTime(&ms, a, b) == simt::cudaSuccess);
  CHECK(ms >= 0.0f);
  CHECK(simt::cudaStreamSynchronize(s) == simt::cudaSuccess);
  CHECK(simt::cudaEventDestroy(a) == simt::cudaSuccess);
  CHECK(simt::cudaEventDestroy(b) == simt::cudaSuccess);
  CHECK(simt::cudaStreamDestroy(s) == simt::cudaSuccess);
  simt::cudaGetLastError();
  simt::cudaDeviceProp prop;
  REQUIRE(simt::cudaGetDeviceProperties(&prop, 0) == simt::cudaSuccess);
  CHECK(prop.warpSize == 32);
  CHECK(prop.maxThreadsPerBlock == 1024);
  int count = 0;
  CHECK(simt::cudaGetDeviceCount(&count) == simt::cudaSuccess);
  CHECK(count == 1);
  int v = 0;
  CHECK(simt::cudaDeviceGetAttribute(&v, simt::cudaDevAttrWarpSize, 0) == simt::cudaSuccess);
  CHECK(v == 32);
  CHECK(simt::cudaDeviceGetAttribute(&v, simt::cudaDevAttrMaxSharedMemoryPerBlockOptin, 0) == simt::cudaSuccess);
  CHECK(v == 227 * 1024);
  std::size_t free_bytes = 0, total_bytes = 0;
  CHECK(simt::cudaMemGetInfo(&free_bytes, &total_bytes) == simt::cudaSuccess);
  CHECK(total_bytes > 0);
  CHECK(free_bytes <= total_bytes);
}

TEST_CASE("emu runtime: cudaMemcpyToSymbol fills __constant__ memory") {
  const float coeff[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  REQUIRE(simt::cudaMemcpyToSymbol(g_coefficients, coeff, sizeof coeff) == simt::cudaSuccess);
  CHECK(simt::cudaMemcpyToSymbol(g_coefficients, coeff, sizeof coeff, 4) == simt::cudaErrorInvalidValue);
  simt::cudaGetLastError();
  DeviceBuffer<float> out(8);
  HALFWAY_LAUNCH(use_constants, 1, 8, 0, 0)(out.get());
  const auto o = out.host();
  for (int t = 0; t < 8; ++t) CHECK(o[t] == 2.0f * coeff[t % 4]);
  float back[4] = {};
  CHECK(simt::cudaMemcpyFromSymbol(back, g_coefficients, sizeof back) == simt::cudaSuccess);
  CHECK(back[3] == 4.0f);
}

TEST_CASE("emu: cp.async primitives copy with zero fill and check alignment") {
  for_each_order([] {
    const int n = 58;  // the last two chunks are ragged or empty
    std::vector<float> in(64);
    for (int k = 0; k < 64; ++k) in[k] = static_cast<float>(k + 1);
    DeviceBuffer<float> din(64, in), dout(64);
    HALFWAY_LAUNCH(pipeline_copy, 1, 16, 0, 0)(din.get(), dout.get(), n);
    const auto o = dout.host();
    for (int t = 0; t < 16; ++t)
      for (int k = 0; k < 4; ++k) {
        const int src = 4 * ((t + 1) % 16) + k;
        CHECK(o[4 * t + k] == (src < n ? in[src] : 0.0f));
      }
  });
  DeviceBuffer<float> din(16);
  CHECK_THROWS_WITH_AS((HALFWAY_LAUNCH(pipeline_misaligned, 1, 1, 0, 0)(din.get()), run_queued()),
                       doctest::Contains("with a pointer not aligned to 16 bytes"), simt::KernelError);
}

TEST_CASE("emu: thread order settings parse and take effect") {
  CHECK(simt::to_string(simt::parse_thread_order("forward")) == "forward");
  CHECK(simt::to_string(simt::parse_thread_order("reverse")) == "reverse");
  CHECK(simt::to_string(simt::parse_thread_order("random")) == "random:1");
  CHECK(simt::to_string(simt::parse_thread_order("random:42")) == "random:42");
  CHECK_THROWS_WITH_AS(simt::parse_thread_order("backwards"),
                       "HALFWAY_EMU_ORDER: expected forward, reverse, random or random:SEED, found 'backwards'",
                       Error);
  CHECK_THROWS_AS(simt::parse_thread_order("random:x1"), Error);

  auto sequence = [] {
    DeviceBuffer<int> seq(64), counter(1);
    HALFWAY_LAUNCH(order_probe, 1, 64, 0, 0)(seq.get(), counter.get());
    return seq.host();
  };
  simt::set_thread_order(simt::ThreadOrder::forward);
  const auto f = sequence();
  for (int t = 0; t < 64; ++t) CHECK(f[t] == t);
  simt::set_thread_order(simt::ThreadOrder::reverse);
  const auto r = sequence();
  for (int t = 0; t < 64; ++t) CHECK(r[t] == 63 - t);
  simt::set_thread_order(simt::ThreadOrder::random, 99);
  const auto x = sequence();
  simt::set_thread_order(simt::ThreadOrder::random, 99);
  CHECK(sequence() == x);  // a seed reproduces its order
  CHECK(x != f);

  // The environment variable, read again after reset_thread_order().
  const char* saved = std::getenv("HALFWAY_EMU_ORDER");
  const std::string saved_value = saved ? saved : "";
  setenv("HALFWAY_EMU_ORDER", "reverse", 1);
  simt::reset_thread_order();
  CHECK(simt::to_string(simt::thread_order()) == "reverse");
  CHECK(sequence() == r);
  setenv("HALFWAY_EMU_ORDER", "sideways", 1);
  simt::reset_thread_order();
  CHECK_THROWS_AS(sequence(), Error);
  if (saved) setenv("HALFWAY_EMU_ORDER", saved_value.c_str(), 1);
  else unsetenv("HALFWAY_EMU_ORDER");
  simt::reset_thread_order();
}

}  // namespace halfway::emu_test
