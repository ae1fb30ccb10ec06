// Warp primitives: shuffles at segment edges, votes, matches, reductions, __syncwarp,
// __activemask, and the errors for broken rules.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/emu/tests/helpers.hpp"

namespace halfway::emu {

enum Mode { kIdx, kUp, kDown, kXor };

__global__ void shuffle_ints(int* out, int mode, int arg, int width) {
  const int l = threadIdx.x;
  const int v = 100 + l;
  int r = 0;
  switch (mode) {
    case kIdx: r = __shfl_sync(0xffffffffu, v, arg + 3 * l, width); break;
    case kUp: r = __shfl_up_sync(0xffffffffu, v, arg, width); break;
    case kDown: r = __shfl_down_sync(0xffffffffu, v, arg, width); break;
    default: r = __shfl_xor_sync(0xffffffffu, v, arg, width); break;
  }
  out[l] = r;
}

template <class T>
__global__ void rotate(const T* in, T* out) {
  const int l = threadIdx.x;
  out[l] = __shfl_sync(0xffffffffu, in[l], l + 1);
}

__global__ void votes(unsigned* out, unsigned mask) {
  const unsigned l = threadIdx.x;
  if (!(mask >> l & 1u)) return;  // lanes outside the mask do not take part
  const int pred = l % 3 == 0;
  out[4 * l + 0] = __ballot_sync(mask, pred);
  out[4 * l + 1] = __any_sync(mask, l == 9);
  out[4 * l + 2] = __all_sync(mask, pred);
  out[4 * l + 3] = __all_sync(mask, l < 32);
}

// Only warps 1 and 3 shuffle; then the whole block meets at a barrier.
__global__ void some_warps_reduce(int* out, int* runs) {
  const int t = threadIdx.x;
  atomicAdd(&runs[t], 1);
  const int warp = t / 32;
  int v = t;
  if (warp == 1 || warp == 3)
    for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
  __syncthreads();
  if (t % 32 == 0) out[warp] = v;
}

__global__ void xor_allreduce(float* out) {
  float v = static_cast<float>(threadIdx.x % 32);
  for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
  out[threadIdx.x] = v;
}

// Half-warps shuffle separately with disjoint masks at the same time.
__global__ void half_warps(unsigned* out) {
  const unsigned l = threadIdx.x;
  const unsigned mask = l < 16 ? 0x0000ffffu : 0xffff0000u;
  out[l] = __shfl_sync(mask, l * 2, l < 16 ? 5 : 20);
  out[32 + l] = __shfl_down_sync(mask, l, 8);  // lanes 8..15 read 16..23: outside the mask
}

__global__ void warp_exchange(int* out) {
  __shared__ int s[64];
  const int t = threadIdx.x;
  s[t] = t * t;
  __syncwarp();
  out[t] = s[(t / 32) * 32 + (t + 1) % 32];
}

__global__ void active_masks(unsigned* out) {
  const unsigned t = threadIdx.x;
  out[t] = __activemask();
  __syncthreads();
  if (t % 2 == 1) return;
  __syncthreads();
  out[64 + t] = __activemask();
}

__global__ void matches_and_reductions(unsigned* out) {
  const unsigned l = threadIdx.x;
  out[l] = __match_any_sync(0xffffffffu, l % 4);
  int pred = -1;
  out[32 + l] = __match_all_sync(0xffffffffu, 7, &pred);
  out[64 + l] = static_cast<unsigned>(pred);
  out[96 + l] = __reduce_add_sync(0xffffffffu, l);
  out[128 + l] = __reduce_max_sync(0xffffffffu, (l * 7) % 32);
  out[160 + l] = static_cast<unsigned>(__reduce_min_sync(0xffffffffu, static_cast<int>(l) - 5));
}

// A block of 48 threads: warp 1 has lanes 0-15 only, and names just those in its masks.
__global__ void partial_warp_sum(int* out) {
  const unsigned t = threadIdx.x;
  const unsigned mask = t < 32 ? 0xffffffffu : 0x0000ffffu;
  const int width = t < 32 ? 32 : 16;
  int v = static_cast<int>(t);
  for (int off = width / 2; off > 0; off /= 2) v += __shfl_down_sync(mask, v, off, width);
  if (t % 32 == 0) out[t / 32] = v;
}

constexpr int kShflLine = __LINE__ + 4;
constexpr int kExitLine = __LINE__ + 2;
__global__ void waits_on_exited_lane(int* out) {
  if (threadIdx.x == 5) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0);
}

constexpr int kWarpOpLine = __LINE__ + 5;
constexpr int kBarrierLine = __LINE__ + 6;
__global__ void waits_on_barrier_lane(int* out) {
  int v = 0;
  if (threadIdx.x < 16)
    v = __shfl_sync(0xffffffffu, 1, 0);
  else
    __syncthreads();
  out[threadIdx.x] = v;
}

__global__ void mask_without_caller() { (void)__ballot_sync(0x1u, 1); }

__global__ void overlapping_masks() {
  if (threadIdx.x < 16) (void)__ballot_sync(0x0000ffffu, 1);
  else (void)__ballot_sync(0xffffffffu, 1);
}

__global__ void divergent_warp_ops() {
  if (threadIdx.x % 2) (void)__ballot_sync(0xffffffffu, 1);
  else (void)__any_sync(0xffffffffu, 1);
}

__global__ void bad_width() { (void)__shfl_sync(0xffffffffu, 1, 0, 12); }

__global__ void mask_beyond_block() { (void)__any_sync(0xffffffffu, 1); }

}  // namespace halfway::emu

namespace halfway::emu_test {
using namespace ::halfway::emu;

namespace {
std::vector<int> run_shuffle(int mode, int arg, int width) {
  DeviceBuffer<int> out(32);
  HALFWAY_LAUNCH(shuffle_ints, 1, 32, 0, 0)(out.get(), mode, arg, width);
  return out.host();
}

}  // namespace

TEST_CASE("emu: __shfl_sync reads srcLane modulo width inside the caller's segment") {
  for_each_order([] {
    for (int width : {32, 16, 8, 4, 2, 1})
      for (int arg : {0, 5, 31, 40, -3}) {
        const auto o = run_shuffle(kIdx, arg, width);
        for (int l = 0; l < 32; ++l) {
          const int src = arg + 3 * l;
          const int expected = (l / width) * width + ((src % width) + width) % width;
          CHECK(o[l] == 100 + expected);
        }
      }
  });
}

TEST_CASE("emu: __shfl_up_sync keeps the own value below delta in each segment") {
  for_each_order([] {
    for (int width : {32, 16, 8, 4})
      for (int delta : {0, 1, 3, 4, 17}) {
        const auto o = run_shuffle(kUp, delta, width);
        for (int l = 0; l < 32; ++l) CHECK(o[l] == 100 + (l % width >= delta ? l - delta : l));
      }
  });
}

TEST_CASE("emu: __shfl_down_sync keeps the own value past the segment end") {
  for_each_order([] {
    for (int width : {32, 16, 8, 4})
      for (int delta : {0, 1, 3, 4, 17}) {
        const auto o = run_shuffle(kDown, delta, width);
        for (int l = 0; l < 32; ++l) CHECK(o[l] == 100 + (l % width + delta < width ? l + delta : l));
      }
  });
}

TEST_CASE("emu: __shfl_xor_sync reads earlier segments but not later ones") {
  for_each_order([] {
    for (int width : {32, 16, 8})
      for (int m : {1, 2, 7, 8, 16, 31}) {
        const auto o = run_shuffle(kXor, m, width);
        for (int l = 0; l < 32; ++l) {
          const int s = l ^ m;
          CHECK(o[l] == 100 + (s / width > l / width ? l : s));
        }
      }
  });
}

TEST_CASE("emu: shuffles move float int unsigned double long long __half and __half2") {
  auto check = [](auto sample) {
    using T = decltype(sample);
    std::vector<T> in(32);
    for (int l = 0; l < 32; ++l) in[l] = static_cast<T>(l * 3 + 1);
    DeviceBuffer<T> din(32, in), dout(32);
    HALFWAY_LAUNCH(rotate<T>, 1, 32, 0, 0)(din.get(), dout.get());
    const auto o = dout.host();
    for (int l = 0; l < 32; ++l) CHECK(o[l] == in[(l + 1) % 32]);
  };
  for_each_order([&] {
    check(0.0f);
    check(0);
    check(0u);
    check(0.0);
    check(0ll);
    check(static_cast<simt::__half>(0.0f));
  });
  std::vector<simt::__half2> in(32);
  for (int l = 0; l < 32; ++l) in[l] = simt::__floats2half2_rn(static_cast<float>(l), static_cast<float>(-l));
  DeviceBuffer<simt::__half2> din(32, in), dout(32);
  HALFWAY_LAUNCH(rotate<simt::__half2>, 1, 32, 0, 0)(din.get(), dout.get());
  const auto o = dout.host();
  for (int l = 0; l < 32; ++l) {
    CHECK(simt::__low2float(o[l]) == static_cast<float>((l + 1) % 32));
    CHECK(simt::__high2float(o[l]) == -static_cast<float>((l + 1) % 32));
  }
}

TEST_CASE("emu: ballot any and all over a partial mask") {
  for_each_order([] {
    const unsigned mask = 0x0f0f0f0fu;
    DeviceBuffer<unsigned> out(4 * 32);
    HALFWAY_LAUNCH(votes, 1, 32, 0, 0)(out.get(), mask);
    const auto o = out.host();
    unsigned ballot = 0;
    for (unsigned l = 0; l < 32; ++l)
      if ((mask >> l & 1u) && l % 3 == 0) ballot |= 1u << l;
    for (unsigned l = 0; l < 32; ++l) {
      if (!(mask >> l & 1u)) {
        CHECK(o[4 * l] == 0u);
        continue;
      }
      CHECK(o[4 * l + 0] == ballot);
      CHECK(o[4 * l + 1] == 1u);  // lane 9 is in the mask
      CHECK(o[4 * l + 2] == 0u);
      CHECK(o[4 * l + 3] == 1u);
    }
  });
}

TEST_CASE("emu: warp operations in only some warps run each thread once") {
  for_each_order([] {
    DeviceBuffer<int> out(4), runs(128);
    HALFWAY_LAUNCH(some_warps_reduce, 1, 128, 0, 0)(out.get(), runs.get());
    const auto o = out.host();
    for (int r : runs.host()) CHECK(r == 1);
    CHECK(o[0] == 0);
    CHECK(o[1] == (32 + 63) * 32 / 2);
    CHECK(o[2] == 64);
    CHECK(o[3] == (96 + 127) * 32 / 2);
  });
}

TEST_CASE("emu: a partial last warp shuffles among its own lanes") {
  for_each_order([] {
    DeviceBuffer<int> out(2);
    HALFWAY_LAUNCH(partial_warp_sum, 1, 48, 0, 0)(out.get());
    const auto o = out.host();
    CHECK(o[0] == 31 * 32 / 2);
    CHECK(o[1] == (32 + 47) * 16 / 2);
  });
}

TEST_CASE("emu: xor butterfly gives every lane the warp sum") {
  for_each_order([] {
    DeviceBuffer<float> out(96);
    HALFWAY_LAUNCH(xor_allreduce, 1, 96, 0, 0)(out.get());
    for (float v : out.host()) CHECK(v == 496.0f);
  });
}

TEST_CASE("emu: disjoint masks in one warp and reads outside the mask") {
  for_each_order([] {
    DeviceBuffer<unsigned> out(64);
    HALFWAY_LAUNCH(half_warps, 1, 32, 0, 0)(out.get());
    const auto o = out.host();
    for (unsigned l = 0; l < 32; ++l) {
      CHECK(o[l] == (l < 16 ? 10u : 40u));
      if (l < 8 || (l >= 16 && l < 24)) CHECK(o[32 + l] == l + 8);
      else if (l < 16) CHECK(o[32 + l] == 0xffffffffu);  // undefined on a GPU: poisoned here
      else CHECK(o[32 + l] == l);  // past the warp's end: own value
    }
  });
}

TEST_CASE("emu: __syncwarp orders shared memory within a warp") {
  for_each_order([] {
    DeviceBuffer<int> out(64);
    HALFWAY_LAUNCH(warp_exchange, 1, 64, 0, 0)(out.get());
    const auto o = out.host();
    for (int t = 0; t < 64; ++t) {
      const int src = (t / 32) * 32 + (t + 1) % 32;
      CHECK(o[t] == src * src);
    }
  });
}

TEST_CASE("emu: __activemask is the lanes that exist and have not exited") {
  DeviceBuffer<unsigned> out(128);
  HALFWAY_LAUNCH(active_masks, 1, 40, 0, 0)(out.get());
  const auto o = out.host();
  for (int t = 0; t < 40; ++t) {
    CHECK(o[t] == (t < 32 ? 0xffffffffu : 0xffu));
    if (t % 2 == 0) CHECK(o[64 + t] == (t < 32 ? 0x55555555u : 0x55u));
  }
}

TEST_CASE("emu: match and reduce warp primitives") {
  for_each_order([] {
    DeviceBuffer<unsigned> out(192);
    HALFWAY_LAUNCH(matches_and_reductions, 1, 32, 0, 0)(out.get());
    const auto o = out.host();
    for (unsigned l = 0; l < 32; ++l) {
      CHECK(o[l] == (0x11111111u << (l % 4)));
      CHECK(o[32 + l] == 0xffffffffu);
      CHECK(o[64 + l] == 1u);
      CHECK(o[96 + l] == 496u);
      CHECK(o[128 + l] == 31u);
      CHECK(static_cast<int>(o[160 + l]) == -5);
    }
  });
}

TEST_CASE("emu: a warp op waiting on an exited lane is a KernelError") {
  for_each_order([] {
    const std::string msg = kernel_error([] {
      DeviceBuffer<int> out(32);
      HALFWAY_LAUNCH(waits_on_exited_lane, 1, 32, 0, 0)(out.get());
    });
    INFO(msg);
    CHECK(msg.find("kernel 'waits_on_exited_lane'") != std::string::npos);
    CHECK(msg.find("deadlock: __shfl_sync at") != std::string::npos);
    CHECK(msg.find("test_warp.cpp:" + std::to_string(kShflLine)) != std::string::npos);
    CHECK(msg.find("lane 5, which exited") != std::string::npos);
    (void)kExitLine;
  });
}

TEST_CASE("emu: a warp op waiting on a lane at a block barrier is a KernelError") {
  for_each_order([] {
    const std::string msg = kernel_error([] {
      DeviceBuffer<int> out(32);
      HALFWAY_LAUNCH(waits_on_barrier_lane, 1, 32, 0, 0)(out.get());
    });
    INFO(msg);
    CHECK(msg.find("deadlock: __shfl_sync at") != std::string::npos);
    CHECK(msg.find("test_warp.cpp:" + std::to_string(kWarpOpLine)) != std::string::npos);
    CHECK(msg.find("lanes 16-31, which wait at __syncthreads at") != std::string::npos);
    CHECK(msg.find("test_warp.cpp:" + std::to_string(kBarrierLine)) != std::string::npos);
  });
}

TEST_CASE("emu: broken warp-op rules are KernelErrors") {
  for_each_order([] {
    CHECK(kernel_error([] { HALFWAY_LAUNCH(mask_without_caller, 1, 32, 0, 0)(); })
              .find("which does not name the calling lane") != std::string::npos);
    // Which rule shows first depends on the order: in forward order lanes 0-15 finish their
    // ballot before lanes 16-31 wait for them.
    const std::string overlap = kernel_error([] { HALFWAY_LAUNCH(overlapping_masks, 1, 32, 0, 0)(); });
    INFO(overlap);
    CHECK((overlap.find("the masks overlap but differ") != std::string::npos ||
           overlap.find(", which exited") != std::string::npos));
    CHECK(kernel_error([] { HALFWAY_LAUNCH(divergent_warp_ops, 1, 32, 0, 0)(); })
              .find("divergent warp operations") != std::string::npos);
    CHECK(kernel_error([] { HALFWAY_LAUNCH(bad_width, 1, 32, 0, 0)(); })
              .find("__shfl_sync with width 12 (expected a power of two from 1 to 32)") != std::string::npos);
    CHECK(kernel_error([] { HALFWAY_LAUNCH(mask_beyond_block, 1, 48, 0, 0)(); })
              .find("names lanes 16-31, which do not exist (the block has 48 threads)") != std::string::npos);
  });
}

}  // namespace halfway::emu_test
