// Launches, thread indices, barriers, shared memory, errors and exceptions.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/emu/tests/helpers.hpp"

namespace halfway::emu {

__global__ void record_indices(unsigned* out, int* runs) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned local = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned gid = block * (blockDim.x * blockDim.y * blockDim.z) + local;
  out[4 * gid + 0] = threadIdx.x | threadIdx.y << 8 | threadIdx.z << 16;
  out[4 * gid + 1] = blockIdx.x | blockIdx.y << 8 | blockIdx.z << 16;
  out[4 * gid + 2] = blockDim.x | blockDim.y << 8 | blockDim.z << 16;
  out[4 * gid + 3] = gridDim.x | gridDim.y << 8 | gridDim.z << 16;
  atomicAdd(&runs[gid], 1);
}

__global__ void shared_exchange(int* out) {
  __shared__ int s[64];
  const int t = threadIdx.x;
  s[t] = t * 3 + static_cast<int>(blockIdx.x) * 1000;
  __syncthreads();
  out[blockIdx.x * 64 + t] = s[(t + 1) % 64] + s[63 - t];
}

__global__ void dynamic_shared_poison(unsigned* before, float* after, int n) {
  HALFWAY_DYNAMIC_SHARED(float, buf);
  const int t = threadIdx.x;
  unsigned bits;
  std::memcpy(&bits, &buf[t], 4);
  before[blockIdx.x * n + t] = bits;  // poisoned: nothing wrote it yet in this block
  __syncthreads();
  buf[t] = static_cast<float>(t + 1);
  __syncthreads();
  after[blockIdx.x * n + t] = buf[n - 1 - t];
}

// Reads its static shared array before any thread of the block wrote it, then writes it.
__global__ void static_shared_poison(unsigned* before) {
  __shared__ float s[64];
  unsigned bits;
  std::memcpy(&bits, &s[threadIdx.x], 4);
  before[blockIdx.x * 64 + threadIdx.x] = bits;
  __syncthreads();
  s[threadIdx.x] = 1.0f;  // what the next block would see without poisoning
}

__global__ void early_return(int* out, int* runs) {
  __shared__ int s[128];
  const int t = threadIdx.x;
  atomicAdd(&runs[t], 1);
  if (t % 3 == 0) return;  // a third of the block leaves before the barrier
  s[t] = t;
  __syncthreads();
  out[t] = s[t % 3 == 1 ? t + 1 : t - 1];
}

// Threads leave a loop with a barrier at different iterations.
__global__ void loop_exit(int* out, int* runs) {
  const int t = threadIdx.x;
  atomicAdd(&runs[t], 1);
  int sum = 0;
  for (int i = 0; i < 8; ++i) {
    if (i > t % 8) return;
    sum += i;
    __syncthreads();
    out[t] = sum;
  }
}

__global__ void barrier_votes(int* out) {
  const int t = threadIdx.x;
  const int count = __syncthreads_count(t % 5 == 0);
  const int all = __syncthreads_and(t < 1000);
  const int not_all = __syncthreads_and(t != 7);
  const int any = __syncthreads_or(t == 99);
  if (t == 0) {  // one writer: the same value from every thread would still be a race
    out[0 + 4 * blockIdx.x] = count;
    out[1 + 4 * blockIdx.x] = all;
    out[2 + 4 * blockIdx.x] = not_all;
    out[3 + 4 * blockIdx.x] = any;
  }
}

int g_alive = 0;
struct Guard {
  Guard() { __atomic_add_fetch(&g_alive, 1, __ATOMIC_RELAXED); }
  ~Guard() { __atomic_sub_fetch(&g_alive, 1, __ATOMIC_RELAXED); }
};

__global__ void throws_after_barrier(int thrower) {
  Guard g;
  __syncthreads();
  if (static_cast<int>(threadIdx.x) == thrower) throw std::runtime_error("boom from a kernel");
  __syncthreads();
}

// One lane throws while the others of its warp wait in a shuffle and other warps wait at
// a barrier: all of them must be unwound.
__global__ void throws_in_warp_op(int* out) {
  Guard g;
  const int t = threadIdx.x;
  if (t < 32) {
    if (t == 13) throw std::logic_error("lane 13 gives up");
    out[t] = __shfl_sync(0xffffffffu, t, 0);
  }
  __syncthreads();
}

__global__ void exercise_stub(float* out) {
  if (threadIdx.x == 3) HALFWAY_EXERCISE_NOT_IMPLEMENTED("00.1");
  out[threadIdx.x] = 1.0f;
}

constexpr int kDivergentA = __LINE__ + 3;
constexpr int kDivergentB = __LINE__ + 4;
__global__ void divergent_barrier() {
  if (threadIdx.x < 16) __syncthreads();
  else
    __syncthreads();
}

constexpr int kTrapLine = __LINE__ + 2;
__global__ void traps() {
  if (threadIdx.x == 2) __trap();
}

template <class T, int Scale>
__global__ void scale_kernel(T* out, T v) {
  out[threadIdx.x] = v * Scale;
}

__global__ void big_stack(int* out) {
  volatile int local[8192];  // 32 KiB of stack per thread
  for (int i = 0; i < 8192; ++i) local[i] = i;
  int s = 0;
  for (int i = 0; i < 8192; i += 1024) s += local[i];
  out[threadIdx.x] = s;
}

__global__ void count_runs(int* runs) { atomicAdd(&runs[threadIdx.x + blockIdx.x * blockDim.x], 1); }

}  // namespace halfway::emu

namespace halfway::emu_test {
using namespace ::halfway::emu;

TEST_CASE("emu: 3D grid and block indices and each thread runs once") {
  for_each_order([] {
    const simt::dim3 grid(2, 3, 2), block(4, 2, 3);
    const int n = 2 * 3 * 2 * 4 * 2 * 3;
    DeviceBuffer<unsigned> out(4 * n);
    DeviceBuffer<int> runs(n);
    HALFWAY_LAUNCH(record_indices, grid, block, 0, 0)(out.get(), runs.get());
    REQUIRE(simt::cudaGetLastError() == simt::cudaSuccess);
    const auto o = out.host();
    const auto r = runs.host();
    int gid = 0;
    for (unsigned bz = 0; bz < 2; ++bz)
      for (unsigned by = 0; by < 3; ++by)
        for (unsigned bx = 0; bx < 2; ++bx)
          for (unsigned tz = 0; tz < 3; ++tz)
            for (unsigned ty = 0; ty < 2; ++ty)
              for (unsigned tx = 0; tx < 4; ++tx, ++gid) {
                CHECK(o[4 * gid + 0] == (tx | ty << 8 | tz << 16));
                CHECK(o[4 * gid + 1] == (bx | by << 8 | bz << 16));
                CHECK(o[4 * gid + 2] == (4u | 2u << 8 | 3u << 16));
                CHECK(o[4 * gid + 3] == (2u | 3u << 8 | 2u << 16));
                CHECK(r[gid] == 1);
              }
  });
}

TEST_CASE("emu: a static shared array is shared by the threads of a block") {
  for_each_order([] {
    DeviceBuffer<int> out(3 * 64);
    HALFWAY_LAUNCH(shared_exchange, 3, 64, 0, 0)(out.get());
    const auto o = out.host();
    for (int b = 0; b < 3; ++b)
      for (int t = 0; t < 64; ++t)
        CHECK(o[b * 64 + t] == ((t + 1) % 64) * 3 + (63 - t) * 3 + 2 * 1000 * b);
  });
}

TEST_CASE("emu: dynamic shared memory has the launch size and is poisoned before each block") {
  for_each_order([] {
    const int n = 96;
    DeviceBuffer<unsigned> before(2 * n);
    DeviceBuffer<float> after(2 * n);
    HALFWAY_LAUNCH(dynamic_shared_poison, 2, n, n * sizeof(float), 0)(before.get(), after.get(), n);
    const auto b = before.host();
    const auto a = after.host();
    for (int k = 0; k < 2 * n; ++k) {
      CHECK(b[k] == 0xffffffffu);
      CHECK(a[k] == static_cast<float>(n - (k % n)));
    }
  });
}

#if !defined(__SANITIZE_ADDRESS__)  // under ASan static shared arrays are plain statics (qualifiers.hpp)
TEST_CASE("emu: static shared memory is filled with 0xFF bytes before each block (HALFWAY_EMU_POISON_SHARED)") {
  const bool was = simt::poison_shared();
  for (bool on : {true, false}) {
    INFO("poisoning ", on ? "on" : "off");
    simt::set_poison_shared(on);
    DeviceBuffer<unsigned> before(3 * 64);
    HALFWAY_LAUNCH(static_shared_poison, 3, 64, 0, 0)(before.get());
    const auto b = before.host();
    // Off, blocks 1 and 2 see the 1.0f (0x3F800000) their predecessor left: the test can fail.
    for (int k = 64; k < 3 * 64; ++k) CHECK(b[k] == (on ? 0xffffffffu : 0x3f800000u));
    if (on)
      for (int k = 0; k < 64; ++k) CHECK(b[k] == 0xffffffffu);
  }
  simt::set_poison_shared(was);
}
#endif

TEST_CASE("emu: an early return before a barrier runs each thread once") {
  for_each_order([] {
    DeviceBuffer<int> out(126), runs(126);
    HALFWAY_LAUNCH(early_return, 1, 126, 0, 0)(out.get(), runs.get());
    const auto o = out.host();
    const auto r = runs.host();
    for (int t = 0; t < 126; ++t) {
      CHECK(r[t] == 1);
      if (t % 3 == 1) CHECK(o[t] == t + 1);
      else if (t % 3 == 2) CHECK(o[t] == t - 1);
      else CHECK(o[t] == 0);
    }
  });
}

TEST_CASE("emu: threads leaving a loop with a barrier at different iterations") {
  for_each_order([] {
    DeviceBuffer<int> out(64), runs(64);
    HALFWAY_LAUNCH(loop_exit, 1, 64, 0, 0)(out.get(), runs.get());
    const auto o = out.host();
    const auto r = runs.host();
    for (int t = 0; t < 64; ++t) {
      CHECK(r[t] == 1);
      const int k = t % 8;
      CHECK(o[t] == k * (k + 1) / 2);
    }
  });
}

TEST_CASE("emu: __syncthreads_count and __syncthreads_and and __syncthreads_or") {
  for_each_order([] {
    DeviceBuffer<int> out(8);
    HALFWAY_LAUNCH(barrier_votes, 2, 100, 0, 0)(out.get());
    const auto o = out.host();
    for (int b = 0; b < 2; ++b) {
      CHECK(o[4 * b + 0] == 20);
      CHECK(o[4 * b + 1] == 1);
      CHECK(o[4 * b + 2] == 0);
      CHECK(o[4 * b + 3] == 1);
    }
  });
}

TEST_CASE("emu: an exception from a kernel thread propagates unchanged and unwinds the others") {
  for_each_order([] {
    g_alive = 0;
    CHECK_THROWS_WITH_AS((HALFWAY_LAUNCH(throws_after_barrier, 2, 64, 0, 0)(10), run_queued()), "boom from a kernel",
                         std::runtime_error);
    CHECK(g_alive == 0);  // every suspended thread's Guard was destroyed
    // The emulator is usable again at once.
    DeviceBuffer<int> runs(4 * 256);
    HALFWAY_LAUNCH(count_runs, 4, 256, 0, 0)(runs.get());
    for (int r : runs.host()) CHECK(r == 1);
  });
}

TEST_CASE("emu: an exception while lanes wait in a warp op unwinds them all") {
  for_each_order([] {
    g_alive = 0;
    DeviceBuffer<int> out(32);
    CHECK_THROWS_WITH_AS((HALFWAY_LAUNCH(throws_in_warp_op, 1, 96, 0, 0)(out.get()), run_queued()), "lane 13 gives up",
                         std::logic_error);
    CHECK(g_alive == 0);
  });
}

TEST_CASE("emu: ExerciseNotImplemented from a kernel keeps its type and message") {
  for_each_order([] {
    DeviceBuffer<float> out(32);
    CHECK_THROWS_WITH_AS((HALFWAY_LAUNCH(exercise_stub, 1, 32, 0, 0)(out.get()), run_queued()),
                         "exercise 00.1 is not implemented yet", ExerciseNotImplemented);
  });
}

TEST_CASE("emu: a divergent __syncthreads is a KernelError naming both lines") {
  for_each_order([] {
    const std::string a = "test_launch.cpp:" + std::to_string(kDivergentA);
    const std::string b = "test_launch.cpp:" + std::to_string(kDivergentB);
    try {
      HALFWAY_LAUNCH(divergent_barrier, 1, 32, 0, 0)();
      run_queued();
      FAIL("expected a KernelError");
    } catch (const simt::KernelError& e) {
      const std::string msg = e.what();
      CHECK(msg.find("kernel 'divergent_barrier'") != std::string::npos);
      CHECK(msg.find("divergent __syncthreads") != std::string::npos);
      CHECK(msg.find("threads 0-15 wait at") != std::string::npos);
      CHECK(msg.find("threads 16-31 wait at") != std::string::npos);
      CHECK(msg.find(a) != std::string::npos);
      CHECK(msg.find(b) != std::string::npos);
    }
  });
}

TEST_CASE("emu: __trap is a KernelError naming the thread and line") {
  CHECK_THROWS_WITH_AS((HALFWAY_LAUNCH(traps, 1, 8, 0, 0)(), run_queued()),
                       doctest::Contains("thread 2 (threadIdx (2,0,0), warp 0 lane 2): __trap() called at"),
                       simt::KernelError);
  const std::string line = "test_launch.cpp:" + std::to_string(kTrapLine);
  CHECK_THROWS_WITH_AS((HALFWAY_LAUNCH(traps, 1, 8, 0, 0)(), run_queued()), doctest::Contains(line.c_str()), simt::KernelError);
}

TEST_CASE("emu: built-in variables outside a kernel are an error") {
  CHECK_THROWS_WITH_AS((void)threadIdx.x, "SIMT emulator: threadIdx used outside a kernel launch", simt::KernelError);
  CHECK_THROWS_AS(__syncthreads(), simt::KernelError);
}

TEST_CASE("emu: a bad launch configuration sets cudaGetLastError and runs nothing") {
  DeviceBuffer<int> runs(2048);
  simt::cudaGetLastError();
  HALFWAY_LAUNCH(count_runs, 1, 2048, 0, 0)(runs.get());
  CHECK(simt::cudaPeekAtLastError() == simt::cudaErrorInvalidConfiguration);
  const simt::cudaError_t e = simt::cudaGetLastError();
  CHECK(e == simt::cudaErrorInvalidConfiguration);
  const std::string msg = simt::cudaGetErrorString(e);
  CHECK(msg.find("kernel 'count_runs'") != std::string::npos);
  CHECK(msg.find("2048 threads; the limit is 1024") != std::string::npos);
  CHECK(simt::cudaGetLastError() == simt::cudaSuccess);  // cleared by reading
  for (int r : runs.host()) CHECK(r == 0);

  HALFWAY_LAUNCH(count_runs, simt::dim3(1), simt::dim3(1, 1, 65), 0, 0)(runs.get());
  CHECK(simt::cudaGetLastError() == simt::cudaErrorInvalidConfiguration);
  HALFWAY_LAUNCH(count_runs, simt::dim3(0), 32, 0, 0)(runs.get());
  CHECK(simt::cudaGetLastError() == simt::cudaErrorInvalidConfiguration);
  HALFWAY_LAUNCH(count_runs, 1, 32, 64 * 1024, 0)(runs.get());
  CHECK(simt::cudaGetLastError() == simt::cudaErrorInvalidValue);
  for (int r : runs.host()) CHECK(r == 0);
}

TEST_CASE("emu: cudaFuncSetAttribute raises the dynamic shared memory limit") {
  DeviceBuffer<unsigned> before(64);
  DeviceBuffer<float> after(64);
  const int n = 64;
  simt::cudaGetLastError();
  HALFWAY_LAUNCH(dynamic_shared_poison, 1, n, 100 * 1024, 0)(before.get(), after.get(), n);
  CHECK(simt::cudaGetLastError() == simt::cudaErrorInvalidValue);
  REQUIRE(simt::cudaFuncSetAttribute(dynamic_shared_poison, simt::cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     100 * 1024) == simt::cudaSuccess);
  HALFWAY_LAUNCH(dynamic_shared_poison, 1, n, 100 * 1024, 0)(before.get(), after.get(), n);
  CHECK(simt::cudaGetLastError() == simt::cudaSuccess);
  CHECK(after.host()[0] == 64.0f);
}

TEST_CASE("emu: template kernels and argument conversions") {
  DeviceBuffer<float> out(16);
  HALFWAY_LAUNCH((scale_kernel<float, 3>), 1, 16, 0, nullptr)(out.get(), 2);  // int -> float
  for (float v : out.host()) CHECK(v == 6.0f);
}

TEST_CASE("emu: fiber stacks hold 32 KiB of locals and are reused across block sizes") {
  DeviceBuffer<int> out(256);
  HALFWAY_LAUNCH(big_stack, 1, 256, 0, 0)(out.get());
  for (int v : out.host()) CHECK(v == 28672);
  for (int threads : {1024, 32, 1000, 1}) {
    DeviceBuffer<int> runs(3 * threads);
    HALFWAY_LAUNCH(count_runs, 3, threads, 0, 0)(runs.get());
    for (int r : runs.host()) CHECK(r == 1);
  }
}

}  // namespace halfway::emu_test
