// common/block_reduce.cuh on the test's device (HALFWAY_TEST_BACKEND: emu, or cuda in the
// gpu binary): every thread gets the same value; integer sums and maxima are exact; a float
// sum has exactly the bits of the documented order (a warp butterfly, then the warp totals
// left to right), replayed here on the host with the same float additions, so a changed
// order fails even where the value is close. Back-to-back calls share one scratch.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/device_memory.hpp"
#include "common/dispatch.hpp"
#include "common/rng.hpp"
#include "common/tests/block_reduce_kernels.hpp"

using namespace halfway;

namespace {

Backend device() {  // resolved inside a test, never at static initialisation
  static const Backend chosen = select_backend(HALFWAY_TEST_BACKEND);
  return chosen;
}

// The documented order on the host: butterfly offsets 16..1 per warp, then warps in order.
float ordered_sum(const std::vector<float>& v) {
  float total = 0.0f;
  for (std::size_t w = 0; w < v.size() / 32; ++w) {
    float lane[32];
    for (int l = 0; l < 32; ++l) lane[l] = v[w * 32 + std::size_t(l)];
    for (int off = 16; off > 0; off >>= 1) {
      float next[32];
      for (int l = 0; l < 32; ++l) next[l] = lane[l] + lane[l ^ off];
      std::memcpy(lane, next, sizeof lane);
    }
    total = w == 0 ? lane[0] : total + lane[0];
  }
  return total;
}

template <class T>
struct Probe {
  std::vector<T> sums, maxes, sums2;
};

template <class T>
Probe<T> run(const std::vector<T>& in) {
  const int threads = int(in.size());
  const Buf<T> d_in = device_copy(device(), in);
  Buf<T> s, m, s2;
  HALFWAY_KERNEL(device(), block_reduce_probe(d_in.data(), s.get(in.size(), device()), m.get(in.size(), device()),
                                              s2.get(in.size(), device()), threads));
  return {s.host(in.size()), m.host(in.size()), s2.host(in.size())};
}

template <class T>
void every_thread_gets(const std::vector<T>& got, T want) {
  for (std::size_t t = 0; t < got.size(); ++t) {
    CAPTURE(t);
    REQUIRE(std::memcmp(&got[t], &want, sizeof want) == 0);
  }
}

}  // namespace

TEST_CASE("block reduction: integer sums and maxima are exact in every thread") {
  for (int threads : {32, 96, 128, 256, 1024}) {
    CAPTURE(threads);
    std::vector<unsigned> in(static_cast<std::size_t>(threads));
    unsigned sum = 0, max = 0;
    for (int t = 0; t < threads; ++t) {
      in[std::size_t(t)] = rng::bits(7, std::uint64_t(t)) % 100000u;
      sum += in[std::size_t(t)];
      max = std::max(max, in[std::size_t(t)]);
    }
    const Probe<unsigned> p = run(in);
    every_thread_gets(p.sums, sum);
    every_thread_gets(p.maxes, max);
    every_thread_gets(p.sums2, 2 * sum);
  }
}

TEST_CASE("block reduction: a float sum has the bits of the documented order") {
  for (int threads : {32, 128, 160, 1024}) {
    CAPTURE(threads);
    std::vector<float> in(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t)  // magnitudes 2^-20..2^20: the order shows in the bits
      in[std::size_t(t)] = float(rng::normal(11, std::uint64_t(t)) * std::ldexp(1.0, int(rng::bits(12, t) % 41) - 20));
    float max = in[0];
    for (float v : in) max = std::max(max, v);
    std::vector<float> twice(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) twice[i] = 2.0f * in[i];
    const Probe<float> p = run(in);
    every_thread_gets(p.sums, ordered_sum(in));
    every_thread_gets(p.maxes, max);
    every_thread_gets(p.sums2, ordered_sum(twice));
    if (threads == 1024) {  // the data make the order visible: a serial sum has other bits
      float serial = 0.0f;
      for (float v : in) serial += v;
      CHECK(serial != ordered_sum(in));
    }
  }
}
