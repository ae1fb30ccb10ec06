// Exhaustive proofs of chapter 01's conversions against independent references:
// - all 65536 halves to float, against the x86 F16C instruction (or the compiler's
//   _Float16) and, where the CUDA headers exist, CUDA's host __half2float;
// - all 2^32 floats to half, round to nearest even and round toward zero, against F16C;
// - all 2^32 floats to bf16, against a reference that lets the FPU do the rounding.
// This file is compiled with -mf16c on x86-64 (see ../CMakeLists.txt). The 2^32 sweeps
// take about 9 to 15 s each on two free cores (OpenMP), more on a loaded machine; they are
// labelled slow so that the sanitizer builds, 10 times slower, skip them.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/fp16/half.hpp"

#if defined(__x86_64__) && defined(__F16C__)
#include <immintrin.h>
#define HALFWAY_ORACLE "F16C"
#elif defined(__FLT16_MAX__)
#define HALFWAY_ORACLE "_Float16"
#else
#error "chapter 01's sweeps need F16C (x86-64, -mf16c) or the compiler's _Float16"
#endif

#ifndef _MM_FROUND_TO_NEAREST_INT
#define _MM_FROUND_TO_NEAREST_INT 0
#endif

#if __has_include(<cuda_fp16.h>)
#include <cuda_fp16.h>
#define HALFWAY_HAVE_CUDA_FP16_HEADER 1
#endif

using namespace halfway;

namespace {

bool half_is_nan(std::uint16_t h) { return (h & 0x7FFFu) > 0x7C00u; }
bool float_is_nan(std::uint32_t u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }

// The hardware's conversions, 8 floats at a time.
template <int kRounding>
void oracle_float_to_half(const float* in, std::uint16_t* out, std::size_t n) {
#if defined(__F16C__)
  for (std::size_t i = 0; i < n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), kRounding | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
#else
  static_assert(kRounding == 0, "round toward zero needs F16C");
  for (std::size_t i = 0; i < n; ++i) {
    const _Float16 h = static_cast<_Float16>(in[i]);
    std::memcpy(out + i, &h, 2);
  }
#endif
}

float oracle_half_to_float(std::uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  _Float16 x;
  std::memcpy(&x, &h, 2);
  return static_cast<float>(x);
#endif
}

// An independent bf16 rounding: scale |x| so that bf16's spacing in its binade becomes 1,
// round to an integer with the FPU's round-to-nearest-even ((q + 2^52) - 2^52 in double,
// exact for q < 2^52), scale back. No bit carries, no tie logic of our own.
double pow2(int k) {  // 2^k for a normal double
  const std::uint64_t u = static_cast<std::uint64_t>(1023 + k) << 52;
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

void reference_float_to_bf16(const float* in, std::uint16_t* out, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {  // written so that the compiler can vectorise it
    const std::uint32_t bits = float_to_bits(in[j]);
    int e = static_cast<int>((bits >> 23) & 0xFFu) - 127;  // binade of |x|
    e = e < -126 ? -126 : e;                                // subnormals share the lowest
    const double q = std::fabs(static_cast<double>(in[j])) * pow2(7 - e);  // exact; < 256
    const double r = (q + 0x1p52) - 0x1p52;  // IEEE arithmetic: not folded without -ffast-math
    const float y = static_cast<float>(r * pow2(e - 7));  // exact, or inf past the top
    out[j] = static_cast<std::uint16_t>(((bits >> 16) & 0x8000u) | (float_to_bits(y) >> 16));
  }
}

// Runs block(first, count, failures) over all 2^32 float bit patterns on OpenMP threads.
// `failures` collects up to 10 lines; the function returns the number of mismatches.
struct Failures {
  std::mutex mutex;
  std::uint64_t count = 0;
  std::vector<std::string> examples;
  void add(std::uint64_t n, const std::vector<std::string>& lines) {
    std::lock_guard<std::mutex> lock(mutex);
    count += n;
    for (const auto& l : lines)
      if (examples.size() < 10) examples.push_back(l);
  }
};

template <class Block>
double sweep_all_floats(Failures& failures, Block block) {
  constexpr std::uint64_t kBlock = 1u << 14;
  constexpr std::int64_t kBlocks = static_cast<std::int64_t>((1ull << 32) / kBlock);
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
  {
    std::vector<float> in(kBlock);
    std::vector<std::uint16_t> ours(kBlock), ref(kBlock);
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t b = 0; b < kBlocks; ++b) {
      try {
        const std::uint32_t first = static_cast<std::uint32_t>(b * kBlock);
        for (std::uint32_t j = 0; j < kBlock; ++j) in[j] = bits_to_float(first + j);
        block(first, in.data(), ours.data(), ref.data(), kBlock, failures);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}

// Compares our 16-bit results with the reference's: equal bits, except that for a NaN
// input ours must be the canonical 0x7FFF and the reference's any NaN.
void compare_16(std::uint32_t first, const std::uint16_t* ours, const std::uint16_t* ref,
                std::size_t n, bool (*is_nan16)(std::uint16_t), Failures& failures) {
  if (std::memcmp(ours, ref, n * 2) == 0) return;
  std::uint64_t bad = 0;
  std::vector<std::string> lines;
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint32_t x = first + static_cast<std::uint32_t>(j);
    const bool ok = float_is_nan(x) ? (ours[j] == 0x7FFF && is_nan16(ref[j])) : ours[j] == ref[j];
    if (!ok) {
      ++bad;
      if (lines.size() < 3)
        lines.push_back("float " + hex(x, 8) + ": ours " + hex(ours[j], 4) + ", reference " +
                        hex(ref[j], 4));
    }
  }
  failures.add(bad, lines);
}

bool bf16_is_nan(std::uint16_t b) { return (b & 0x7FFFu) > 0x7F80u; }

void report(const char* what, double seconds, const Failures& failures) {
  MESSAGE(std::string(what) << ": all 2^32 floats in " << seconds << " s, " << failures.count
                << " mismatches");
  for (const auto& line : failures.examples) MESSAGE(line);
  CHECK(failures.count == 0);
}

}  // namespace

TEST_CASE("every half converts to the float the hardware gives [ex01.2]") {
  int checked = 0, bad = 0;
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float ours = half_bits_to_float(static_cast<std::uint16_t>(h));
    const float ref = oracle_half_to_float(static_cast<std::uint16_t>(h));
    // Bit for bit, NaN included: our policy keeps sign and payload and sets the quiet
    // bit, as F16C does.
    if (float_to_bits(ours) != float_to_bits(ref)) {
      if (++bad <= 5)
        MESSAGE("half " << hex(h, 4) << ": ours " << hex(float_to_bits(ours), 8) << ", "
                        << HALFWAY_ORACLE << " " << hex(float_to_bits(ref), 8));
    }
    ++checked;
  }
  CHECK(checked == 65536);
  CHECK(bad == 0);
}

#if HALFWAY_HAVE_CUDA_FP16_HEADER
TEST_CASE("every half converts to the float CUDA's host __half2float gives [ex01.2]") {
  int bad = 0;
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    __half_raw raw;
    raw.x = static_cast<unsigned short>(h);
    const std::uint32_t cuda = float_to_bits(__half2float(__half(raw)));
    const std::uint32_t ours = float_to_bits(half_bits_to_float(static_cast<std::uint16_t>(h)));
    // CUDA's host code turns every NaN into 0x7FFFFFFF; compare NaN-ness there.
    const bool ok = half_is_nan(static_cast<std::uint16_t>(h))
                        ? (float_is_nan(ours) && float_is_nan(cuda))
                        : ours == cuda;
    if (!ok && ++bad <= 5)
      MESSAGE("half " << hex(h, 4) << ": ours " << hex(ours, 8) << ", CUDA " << hex(cuda, 8));
  }
  CHECK(bad == 0);
}

TEST_CASE("floats convert to the half CUDA's host __float2half_rn gives (every 61st pattern) [ex01.1]") {
  // A strided sample (70 million floats): CUDA's host routine is slow, and the full
  // sweep against the hardware below is the real proof.
  std::uint64_t bad = 0;
  (void)float_to_half_bits(1.0f);  // a stub throws here, before the threads start
#pragma omp parallel for reduction(+ : bad) schedule(static)
  for (std::int64_t k = 0; k < (1ll << 32) / 61; ++k) {
    const std::uint32_t x = static_cast<std::uint32_t>(k * 61);
    const std::uint16_t ours = float_to_half_bits(bits_to_float(x));
    const std::uint16_t cuda = __half_raw(__float2half_rn(bits_to_float(x))).x;
    bad += float_is_nan(x) ? !(ours == 0x7FFF && cuda == 0x7FFF) : ours != cuda;
  }
  CHECK(bad == 0);
}
#endif

TEST_CASE("every float converts to the half the hardware gives [ex01.1] [slow]") {
  (void)float_to_half_bits(1.0f);  // a stub throws here, before the threads start
  Failures failures;
  const double seconds = sweep_all_floats(
      failures, [](std::uint32_t first, const float* in, std::uint16_t* ours,
                   std::uint16_t* ref, std::size_t n, Failures& f) {
        for (std::size_t j = 0; j < n; ++j) ours[j] = float_to_half_bits(in[j]);
        oracle_float_to_half<_MM_FROUND_TO_NEAREST_INT>(in, ref, n);
        compare_16(first, ours, ref, n, half_is_nan, f);
      });
  report("float to half, round to nearest even, against " HALFWAY_ORACLE, seconds, failures);
}

#if defined(__F16C__)
TEST_CASE("every float converts to the half the hardware gives rounding toward zero [slow]") {
  Failures failures;
  const double seconds = sweep_all_floats(
      failures, [](std::uint32_t first, const float* in, std::uint16_t* ours,
                   std::uint16_t* ref, std::size_t n, Failures& f) {
        for (std::size_t j = 0; j < n; ++j) ours[j] = float_to_half_bits_rtz(in[j]);
        oracle_float_to_half<_MM_FROUND_TO_ZERO>(in, ref, n);
        compare_16(first, ours, ref, n, half_is_nan, f);
      });
  report("float to half, round toward zero, against F16C", seconds, failures);
}
#endif

TEST_CASE("every float converts to the bf16 an FPU-rounded reference gives [ex01.3] [slow]") {
  (void)float_to_bf16_bits(1.0f);  // a stub throws here, before the threads start
  Failures failures;
  const double seconds = sweep_all_floats(
      failures, [](std::uint32_t first, const float* in, std::uint16_t* ours,
                   std::uint16_t* ref, std::size_t n, Failures& f) {
        for (std::size_t j = 0; j < n; ++j) ours[j] = float_to_bf16_bits(in[j]);
        reference_float_to_bf16(in, ref, n);
        compare_16(first, ours, ref, n, bf16_is_nan, f);
      });
  report("float to bf16 against the FPU-rounded reference", seconds, failures);
}

TEST_CASE("every bf16 converts to float and back unchanged [ex01.3]") {
  int bad = 0;
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {
    const float f = bf16_bits_to_float(static_cast<std::uint16_t>(b));
    CHECK(float_to_bits(f) == b << 16);
    const std::uint16_t back = float_to_bf16_bits(f);
    bad += bf16_is_nan(static_cast<std::uint16_t>(b)) ? back != 0x7FFF : back != b;
  }
  CHECK(bad == 0);
}

TEST_CASE("every half converts to float and back unchanged [ex01.1]") {
  int bad = 0;
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const std::uint16_t back = float_to_half_bits(oracle_half_to_float(static_cast<std::uint16_t>(h)));
    bad += half_is_nan(static_cast<std::uint16_t>(h)) ? back != 0x7FFF : back != h;
  }
  CHECK(bad == 0);
}
