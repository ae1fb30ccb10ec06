// The emulator as a strict stand-in for a GPU: each check trips on a wrong program (one that
// an emulator running everything at once on host memory would let pass) and lets the right
// program through. Async mode is on here whatever HALFWAY_EMU_ASYNC says.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/emu/tests/helpers.hpp"

namespace halfway::emu {

__device__ float g_table[8];

__global__ void add_one(float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.0f;
}

__global__ void copy_values(const float* in, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i];
}

__global__ void noop() {}

__global__ void trap_in_thread_3() {
  if (threadIdx.x == 3) __trap();
}

__global__ void big_dynamic_shared(float* out) {
  HALFWAY_DYNAMIC_SHARED(float, s);
  s[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x];
}

}  // namespace halfway::emu

namespace halfway::emu_test {
using namespace ::halfway::emu;

namespace {

/// Async mode on for one test, whatever the environment says; restored after.
struct AsyncOn {
  AsyncOn() { simt::set_async_mode(true); }
  ~AsyncOn() { simt::reset_async_mode(); }
};

std::string last_error_text() {
  const simt::cudaError_t e = simt::cudaGetLastError();
  return e == simt::cudaSuccess ? "no error" : simt::cudaGetErrorString(e);
}

}  // namespace

// ---- async mode --------------------------------------------------------------------------

TEST_CASE("emu strict: a kernel's result is there only after a synchronisation point") {
  AsyncOn async;
  std::vector<float> host(64, 1.0f);
  DeviceBuffer<float> x(64, host);
  run_queued();  // the copy from the host is queued too
  simt::cudaStream_t s = nullptr;
  REQUIRE(simt::cudaStreamCreate(&s) == simt::cudaSuccess);
  HALFWAY_LAUNCH(add_one, 1, 64, 0, s)(x.get(), 64);
  // The wrong program: the host reads device memory without waiting. The kernel has not run.
  CHECK(x.get()[0] == 1.0f);
  // The right one: wait for the stream (or copy the result back, which waits).
  REQUIRE(simt::cudaStreamSynchronize(s) == simt::cudaSuccess);
  CHECK(x.get()[0] == 2.0f);
  HALFWAY_LAUNCH(add_one, 1, 64, 0, s)(x.get(), 64);
  for (float v : x.host()) CHECK(v == 3.0f);  // cudaMemcpy to pageable memory waits
  REQUIRE(simt::cudaStreamDestroy(s) == simt::cudaSuccess);
}

TEST_CASE("emu strict: an async copy into pinned memory is there only after its event") {
  AsyncOn async;
  DeviceBuffer<float> x(16, std::vector<float>(16, 5.0f));
  float* pinned = nullptr;
  REQUIRE(simt::cudaMallocHost(&pinned, 16 * sizeof(float)) == simt::cudaSuccess);
  pinned[0] = -1.0f;
  simt::cudaStream_t s = nullptr;
  simt::cudaEvent_t done = nullptr;
  REQUIRE(simt::cudaStreamCreate(&s) == simt::cudaSuccess);
  REQUIRE(simt::cudaEventCreate(&done) == simt::cudaSuccess);
  HALFWAY_LAUNCH(add_one, 1, 16, 0, s)(x.get(), 16);
  REQUIRE(simt::cudaMemcpyAsync(pinned, x.get(), 16 * sizeof(float), simt::cudaMemcpyDeviceToHost, s) ==
          simt::cudaSuccess);
  REQUIRE(simt::cudaEventRecord(done, s) == simt::cudaSuccess);
  CHECK(pinned[0] == -1.0f);  // read before the event: the copy has not happened
  REQUIRE(simt::cudaEventSynchronize(done) == simt::cudaSuccess);
  CHECK(pinned[0] == 6.0f);
  CHECK(simt::cudaEventQuery(done) == simt::cudaSuccess);
  REQUIRE(simt::cudaEventDestroy(done) == simt::cudaSuccess);
  REQUIRE(simt::cudaStreamDestroy(s) == simt::cudaSuccess);
  REQUIRE(simt::cudaFreeHost(pinned) == simt::cudaSuccess);
}

TEST_CASE("emu strict: a copy from pageable memory is staged and a kernel's error comes out of the wait") {
  AsyncOn async;
  DeviceBuffer<float> x(4);
  std::vector<float> src(4, 7.0f);
  REQUIRE(simt::cudaMemcpy(x.get(), src.data(), 4 * sizeof(float), simt::cudaMemcpyHostToDevice) ==
          simt::cudaSuccess);
  src[0] = 0.0f;  // the host may reuse its buffer at once
  CHECK(x.host()[0] == 7.0f);
  // A kernel's error surfaces where the host waits, not at the launch; the work queued
  // behind it is dropped (a GPU's context is lost after a fault).
  HALFWAY_LAUNCH(trap_in_thread_3, 1, 32, 0, 0)();
  HALFWAY_LAUNCH(add_one, 1, 4, 0, 0)(x.get(), 4);
  CHECK_THROWS_WITH_AS(run_queued(), doctest::Contains("kernel 'trap_in_thread_3'"), simt::KernelError);
  CHECK(x.host()[0] == 7.0f);
}

TEST_CASE("emu strict: async mode is the default and only HALFWAY_EMU_ASYNC=0 turns it off") {
  // Every emu test binary (./course test, .ci/run) runs in the mode the environment gives:
  // async unless a test sets HALFWAY_EMU_ASYNC=0 (emu_tests_sync alone does, CMakeLists.txt).
  simt::reset_async_mode();
  const char* env = std::getenv("HALFWAY_EMU_ASYNC");
  const bool turned_off = env != nullptr && std::string(env) == "0";
  CHECK(simt::async_mode() == !turned_off);
}

TEST_CASE("emu strict: HALFWAY_EMU_ASYNC=0 runs every launch at once") {
  simt::set_async_mode(false);
  DeviceBuffer<float> x(8, std::vector<float>(8, 1.0f));
  HALFWAY_LAUNCH(add_one, 1, 8, 0, 0)(x.get(), 8);
  CHECK(x.get()[0] == 2.0f);
  simt::reset_async_mode();
}

// ---- host pointers into kernels ------------------------------------------------------------

TEST_CASE("emu strict: a host pointer passed to a kernel is an error naming the kernel and the argument") {
  AsyncOn async;
  static std::vector<float> host(32, 1.0f);  // static: the lambda below has no captures
  DeviceBuffer<float> dev(32);
  const std::string msg = kernel_error([] { HALFWAY_LAUNCH(copy_values, 1, 32, 0, 0)(host.data(), nullptr, 32); });
  INFO(msg);
  CHECK(msg.find("kernel 'copy_values' launched at") != std::string::npos);
  CHECK(msg.find("argument 1 (float const*)") != std::string::npos);
  CHECK(msg.find("neither device memory") != std::string::npos);
  // The same data in device memory passes; a null pointer is no host pointer.
  DeviceBuffer<float> in(32, host);
  HALFWAY_LAUNCH(copy_values, 1, 32, 0, 0)(in.get(), dev.get(), 32);
  HALFWAY_LAUNCH(copy_values, 1, 1, 0, 0)(in.get() + 32, dev.get(), 0);  // one past the end is inside
  for (float v : dev.host()) CHECK(v == 1.0f);
}

TEST_CASE("emu strict: pinned and registered host memory and __device__ symbols may be kernel arguments") {
  AsyncOn async;
  float* pinned = nullptr;
  REQUIRE(simt::cudaHostAlloc(&pinned, 8 * sizeof(float), simt::cudaHostAllocMapped) == simt::cudaSuccess);
  for (int i = 0; i < 8; ++i) pinned[i] = float(i);
  HALFWAY_LAUNCH(add_one, 1, 8, 0, 0)(pinned, 8);
  run_queued();
  CHECK(pinned[7] == 8.0f);
  REQUIRE(simt::cudaFreeHost(pinned) == simt::cudaSuccess);

  std::vector<float> registered(8, 1.0f);
  REQUIRE(simt::cudaHostRegister(registered.data(), 8 * sizeof(float), simt::cudaHostRegisterDefault) ==
          simt::cudaSuccess);
  CHECK(simt::cudaHostRegister(registered.data() + 2, 4, 0) == simt::cudaErrorHostMemoryAlreadyRegistered);
  HALFWAY_LAUNCH(add_one, 1, 8, 0, 0)(registered.data(), 8);
  REQUIRE(simt::cudaHostUnregister(registered.data()) == simt::cudaSuccess);  // waits for the kernel
  CHECK(registered[0] == 2.0f);
  static std::vector<float> after(8, 1.0f);
  after = registered;
  CHECK(kernel_error([] { HALFWAY_LAUNCH(add_one, 1, 8, 0, 0)(after.data(), 8); })
            .find("argument 1 (float*)") != std::string::npos);

  void* table = nullptr;
  REQUIRE(simt::cudaGetSymbolAddress(&table, g_table) == simt::cudaSuccess);
  HALFWAY_LAUNCH(add_one, 1, 8, 0, 0)(static_cast<float*>(table), 8);
  run_queued();
  float back[8] = {};
  REQUIRE(simt::cudaMemcpyFromSymbol(back, g_table, sizeof back) == simt::cudaSuccess);
  CHECK(back[3] == 1.0f);
  simt::cudaGetLastError();
}

TEST_CASE("emu strict: a freed buffer passed to a kernel is an error") {
  AsyncOn async;
  static float* p = nullptr;
  REQUIRE(simt::cudaMalloc(&p, 64 * sizeof(float)) == simt::cudaSuccess);
  REQUIRE(simt::cudaFree(p) == simt::cudaSuccess);
  CHECK(kernel_error([] { HALFWAY_LAUNCH(add_one, 1, 64, 0, 0)(p, 64); }).find("kernel 'add_one'") !=
        std::string::npos);
}

// ---- launch limits -------------------------------------------------------------------------

TEST_CASE("emu strict: launch limits on threads grid and dynamic shared memory") {
  AsyncOn async;
  simt::cudaGetLastError();
  HALFWAY_LAUNCH(noop, 1, 1025, 0, 0)();
  CHECK(last_error_text().find("1025 threads; the limit is 1024") != std::string::npos);
  HALFWAY_LAUNCH(noop, simt::dim3(1, 65536), 32, 0, 0)();
  CHECK(last_error_text().find("exceeds the limits (2^31-1, 65535, 65535)") != std::string::npos);
  HALFWAY_LAUNCH(noop, simt::dim3(1, 1, 65536), 32, 0, 0)();
  CHECK(last_error_text().find("grid (1,1,65536)") != std::string::npos);
  HALFWAY_LAUNCH(noop, simt::dim3(2147483648u), 32, 0, 0)();
  CHECK(last_error_text().find("grid (2147483648,1,1)") != std::string::npos);
  // 48 KiB of dynamic shared memory without the opt-in; one byte more needs it.
  DeviceBuffer<float> out(32);
  HALFWAY_LAUNCH(big_dynamic_shared, 1, 32, 48 * 1024, 0)(out.get());
  CHECK(last_error_text() == "no error");
  HALFWAY_LAUNCH(big_dynamic_shared, 1, 32, 48 * 1024 + 1, 0)(out.get());
  const std::string smem = last_error_text();
  CHECK(smem.find("49153 bytes of dynamic shared memory; the limit is 49152") != std::string::npos);
  CHECK(smem.find("cudaFuncAttributeMaxDynamicSharedMemorySize") != std::string::npos);
  REQUIRE(simt::cudaFuncSetAttribute(big_dynamic_shared, simt::cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     64 * 1024) == simt::cudaSuccess);
  HALFWAY_LAUNCH(big_dynamic_shared, 1, 32, 48 * 1024 + 1, 0)(out.get());
  CHECK(last_error_text() == "no error");
  for (float v : out.host()) CHECK(v == 1.0f);
}

// ---- graphs --------------------------------------------------------------------------------

TEST_CASE("emu strict: a captured graph replays its kernels and copies with their arguments") {
  AsyncOn async;
  DeviceBuffer<float> x(32, std::vector<float>(32, 0.0f));
  float* pinned = nullptr;
  REQUIRE(simt::cudaMallocHost(&pinned, 32 * sizeof(float)) == simt::cudaSuccess);
  simt::cudaStream_t s = nullptr;
  REQUIRE(simt::cudaStreamCreateWithFlags(&s, simt::cudaStreamNonBlocking) == simt::cudaSuccess);
  REQUIRE(simt::cudaStreamBeginCapture(s, simt::cudaStreamCaptureModeGlobal) == simt::cudaSuccess);
  HALFWAY_LAUNCH(add_one, 1, 32, 0, s)(x.get(), 32);
  HALFWAY_LAUNCH(add_one, 1, 32, 0, s)(x.get(), 32);
  REQUIRE(simt::cudaMemcpyAsync(pinned, x.get(), 32 * sizeof(float), simt::cudaMemcpyDeviceToHost, s) ==
          simt::cudaSuccess);
  simt::cudaStreamCaptureStatus status = simt::cudaStreamCaptureStatusNone;
  REQUIRE(simt::cudaStreamIsCapturing(s, &status) == simt::cudaSuccess);
  CHECK(status == simt::cudaStreamCaptureStatusActive);
  simt::cudaGraph_t graph = nullptr;
  REQUIRE(simt::cudaStreamEndCapture(s, &graph) == simt::cudaSuccess);
  CHECK(x.host()[0] == 0.0f);  // capturing ran nothing
  simt::cudaGraphExec_t exec = nullptr;
  REQUIRE(simt::cudaGraphInstantiate(&exec, graph, 0) == simt::cudaSuccess);
  for (int replay = 1; replay <= 3; ++replay) {
    REQUIRE(simt::cudaGraphLaunch(exec, s) == simt::cudaSuccess);
    REQUIRE(simt::cudaStreamSynchronize(s) == simt::cudaSuccess);
    CHECK(pinned[31] == 2.0f * replay);
  }
  // Waiting for a capturing stream is refused and invalidates the capture.
  REQUIRE(simt::cudaStreamBeginCapture(s, simt::cudaStreamCaptureModeGlobal) == simt::cudaSuccess);
  CHECK(simt::cudaStreamSynchronize(s) == simt::cudaErrorStreamCaptureUnsupported);
  simt::cudaGraph_t broken = nullptr;
  CHECK(simt::cudaStreamEndCapture(s, &broken) == simt::cudaErrorStreamCaptureInvalidated);
  CHECK(broken == nullptr);
  simt::cudaGetLastError();
  REQUIRE(simt::cudaGraphExecDestroy(exec) == simt::cudaSuccess);
  REQUIRE(simt::cudaGraphDestroy(graph) == simt::cudaSuccess);
  REQUIRE(simt::cudaStreamDestroy(s) == simt::cudaSuccess);
  REQUIRE(simt::cudaFreeHost(pinned) == simt::cudaSuccess);
}

}  // namespace halfway::emu_test
