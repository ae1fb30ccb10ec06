// The fp8 cast kernels on the emulator (ch09_tests_emu) or the GPU (ch09_tests_gpu): bit
// for bit the cpu casts, both formats, at an odd size, with the edge values of both
// formats (ties, thresholds, subnormals, inf, NaN) among random ones.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/device_memory.hpp"
#include "common/testing/test_backend.hpp"
#include "kernels/fp8/fp8.hpp"
#include "kernels/fp8/quantize.hpp"

using namespace halfway;

namespace {
std::vector<float> inputs() {
  std::vector<float> x;
  for (Fp8Format f : {Fp8Format::e4m3, Fp8Format::e5m2})
    for (int b = 0; b < 256; ++b) {
      const float v = fp8_bits_to_float(static_cast<std::uint8_t>(b), f);
      x.insert(x.end(), {v, std::nextafter(v, INFINITY), std::nextafter(v, -INFINITY), v * 1.0625f});
    }
  std::mt19937 rng(3);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 4001; ++i) x.push_back(bits_to_float(bits(rng)));
  return x;
}
}  // namespace

TEST_CASE("the fp8 cast kernels give the cpu's bits in both formats") {
  const Backend backend = testing::test_backend();
  const std::vector<float> x = inputs();
  const auto n = static_cast<std::int64_t>(x.size());
  Buf<float> d_x, d_back;
  Buf<std::uint8_t> d_q;
  copy_in(backend, d_x.get(x.size(), backend), x.data(), x.size() * sizeof(float));
  for (Fp8Format f : {Fp8Format::e4m3, Fp8Format::e5m2}) {
    for (float scale : {1.0f, 0.75f, 4096.0f}) {
      std::vector<std::uint8_t> want(x.size());
      fp8::quantize(Backend::cpu, x.data(), n, scale, f, want.data());
      fp8::quantize(backend, d_x.data(), n, scale, f, d_q.get(x.size(), backend));
      const std::vector<std::uint8_t> got = to_host(backend, d_q.data(), x.size());
      CHECK(got == want);
      std::vector<float> back(x.size());
      fp8::dequantize(Backend::cpu, want.data(), n, 1.0f / scale, f, back.data());
      fp8::dequantize(backend, d_q.data(), n, 1.0f / scale, f, d_back.get(x.size(), backend));
      const std::vector<float> got_back = to_host(backend, d_back.data(), x.size());
      CHECK(std::memcmp(got_back.data(), back.data(), back.size() * sizeof(float)) == 0);
    }
  }
}
