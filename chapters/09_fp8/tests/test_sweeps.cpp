// Proofs of the fp8 conversions against CUDA's own host code (cuda_fp8.hpp, compiled by
// g++ here: no GPU needed):
// - every float to e4m3 and to e5m2, saturating and not: all 2^32 bit patterns, [slow]
//   (about a minute on two free cores, CUDA's reference converts through double), and a
//   strided sample of them in the default test set;
// - every e4m3 and e5m2 byte to float.
// Bit for bit, NaN included. Where the CUDA headers are missing (../CMakeLists.txt finds
// them), this file has no tests, and the configure step says so.
#include <doctest/doctest.h>

#if __has_include(<cuda_fp8.h>)
#include <cuda_fp8.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "common/parallel_ranges.hpp"
#include "kernels/fp8/fp8.hpp"

using namespace halfway;

namespace {

std::string hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}


// Mismatches over a set of float patterns, with the first few as lines to print.
struct Mismatches {
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> checked{0};
  std::mutex mutex;
  std::vector<std::string> examples;
};

// Compares ours with CUDA's for the floats stride * [begin, end), in one format and mode.
// Both are template arguments, so the compiler folds CUDA's branches on them away (a
// third of the sweep's time).
template <Fp8Format kFormat, Saturation kSat>
void compare_range(std::uint64_t stride, std::int64_t begin, std::int64_t end, Mismatches& m) {
  constexpr __nv_fp8_interpretation_t format = kFormat == Fp8Format::e4m3 ? __NV_E4M3 : __NV_E5M2;
  constexpr __nv_saturation_t sat = kSat == Saturation::finite ? __NV_SATFINITE : __NV_NOSAT;
  std::uint64_t bad = 0;
  for (std::int64_t i = begin; i < end; ++i) {
    const auto x = static_cast<std::uint32_t>(stride * static_cast<std::uint64_t>(i));
    const float f = bits_to_float(x);
    const std::uint8_t ours = float_to_fp8_bits(f, kFormat, kSat);
    const std::uint8_t cuda = __nv_cvt_float_to_fp8(f, sat, format);
    if (ours == cuda) continue;
    ++bad;
    std::lock_guard<std::mutex> lock(m.mutex);
    if (m.examples.size() < 8)
      m.examples.push_back(std::string("float ") + hex(x, 8) + (kSat == Saturation::finite ? " satfinite" : " nosat") +
                           ": ours " + hex(ours, 2) + ", CUDA " + hex(cuda, 2));
  }
  m.count += bad;
  m.checked += static_cast<std::uint64_t>(end - begin);
}

// Every `stride`-th float pattern (stride 1: all 2^32), in both modes, on OpenMP threads.
template <Fp8Format kFormat>
void sweep(std::uint64_t stride, std::uint64_t expected_checks) {
  (void)float_to_fp8_bits(1.0f, kFormat, Saturation::finite);  // a stub throws here, not in a thread
  Mismatches m;
  const auto n = static_cast<std::int64_t>(((1ull << 32) + stride - 1) / stride);
  for_ranges(n, true, [&](std::int64_t begin, std::int64_t end) {
    compare_range<kFormat, Saturation::finite>(stride, begin, end, m);
    compare_range<kFormat, Saturation::none>(stride, begin, end, m);
  });
  MESSAGE(std::string(to_string(kFormat)) << ": " << m.checked.load() << " conversions, " << m.count.load() << " mismatches");
  for (const auto& line : m.examples) MESSAGE(line);
  CHECK(m.checked.load() == expected_checks);
  CHECK(m.count.load() == 0);
}

void every_byte_to_float(Fp8Format format) {
  int bad = 0;
  for (std::uint32_t b = 0; b < 256; ++b) {
    const auto byte = static_cast<std::uint8_t>(b);
    const std::uint32_t ours = float_to_bits(fp8_bits_to_float(byte, format));
    // What CUDA's fp8 classes give: their operator float (fp8 to half to float).
    float cuda;
    if (format == Fp8Format::e4m3) {
      __nv_fp8_e4m3 v;
      v.__x = byte;
      cuda = static_cast<float>(v);
    } else {
      __nv_fp8_e5m2 v;
      v.__x = byte;
      cuda = static_cast<float>(v);
    }
    if (ours != float_to_bits(cuda) && ++bad <= 5)
      MESSAGE(std::string(to_string(format)) << " " << hex(b, 2) << ": ours " << hex(ours, 8) << ", CUDA "
                                << hex(float_to_bits(cuda), 8));
  }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("every float converts to the e4m3 CUDA gives saturating or not [ex09.1] [slow]") {
  sweep<Fp8Format::e4m3>(1, 2ull << 32);
}

TEST_CASE("every float converts to the e5m2 CUDA gives saturating or not [slow]") {
  sweep<Fp8Format::e5m2>(1, 2ull << 32);
}

TEST_CASE("floats convert to the e4m3 CUDA gives (every 257th pattern) [ex09.1]") {
  sweep<Fp8Format::e4m3>(257, 2 * (((1ull << 32) + 256) / 257));
}

TEST_CASE("floats convert to the e5m2 CUDA gives (every 257th pattern)") {
  sweep<Fp8Format::e5m2>(257, 2 * (((1ull << 32) + 256) / 257));
}

TEST_CASE("every e4m3 converts to the float CUDA gives") { every_byte_to_float(Fp8Format::e4m3); }
TEST_CASE("every e5m2 converts to the float CUDA gives") { every_byte_to_float(Fp8Format::e5m2); }

#endif
