// The cpu backend of the casts: the same bits as the scalar conversions, and the counts.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "chapters/01_fp16/tests/cast_inputs.hpp"
#include "common/error.hpp"
#include "kernels/fp16/cast.hpp"

using namespace halfway;

TEST_CASE("cpu cast f32 to f16 counts overflow flush and subnormal results") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> in = {
      65520.0f,   // overflow
      -1e5f,      // overflow
      65504.0f,   // the largest half: fine
      1e-8f,      // flushes to zero
      -std::ldexp(1.0f, -25),  // flushes (a tie to zero)
      1e-6f,      // subnormal
      std::ldexp(1.0f, -24),   // subnormal (the smallest)
      0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),  // none of these count
      1.0f, -3.5f};
  std::vector<half> out(in.size());
  CastCounts counts;
  counts.overflow = 99;  // overwritten, not added to
  cpu::cast_f32_to_f16(in.data(), out.data(), in.size(), &counts);
  CHECK(counts.overflow == 2);
  CHECK(counts.flushed == 2);
  CHECK(counts.subnormal == 2);
  for (std::size_t i = 0; i < in.size(); ++i) CHECK(out[i].bits == float_to_half_bits(in[i]));
}

TEST_CASE("cpu cast f32 to bf16 counts overflow flush and subnormal results") {
  const std::vector<float> in = {
      bits_to_float(0x7F7FFFFF),  // overflow: rounds up to inf
      bits_to_float(0xFF7F8000),  // overflow: a tie to inf
      bits_to_float(0x7F7F7FFF),  // bf16's largest: fine
      bits_to_float(0x00000001),  // flushes
      bits_to_float(0x80008000),  // flushes (a tie to zero)
      1e-39f,                     // subnormal
      65520.0f, 1e-8f, 1.0f};     // fine in bf16
  std::vector<bfloat16> out(in.size());
  CastCounts counts;
  cpu::cast_f32_to_bf16(in.data(), out.data(), in.size(), &counts);
  CHECK(counts == CastCounts{2, 2, 1});
  for (std::size_t i = 0; i < in.size(); ++i) CHECK(out[i].bits == float_to_bf16_bits(in[i]));
}

TEST_CASE("cpu casts equal the scalar conversions at every size") {
  for (std::size_t n : {0, 1, 2, 17, 1023, 100000}) {
    CAPTURE(n);
    const std::vector<float> in = cast_test_inputs(n, 7);
    std::vector<half> h(n);
    std::vector<bfloat16> b(n);
    CastCounts ch, cb;
    cpu::cast_f32_to_f16(in.data(), h.data(), n, &ch);
    cpu::cast_f32_to_bf16(in.data(), b.data(), n, &cb);
    CHECK(ch == expected_counts_f16(in));
    CHECK(cb == expected_counts_bf16(in));
    std::vector<float> back_h(n), back_b(n);
    cpu::cast_f16_to_f32(h.data(), back_h.data(), n);
    cpu::cast_bf16_to_f32(b.data(), back_b.data(), n);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
      bad += h[i].bits != float_to_half_bits(in[i]);
      bad += b[i].bits != float_to_bf16_bits(in[i]);
      bad += float_to_bits(back_h[i]) != float_to_bits(half_bits_to_float(h[i].bits));
      bad += float_to_bits(back_b[i]) != (static_cast<std::uint32_t>(b[i].bits) << 16);
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("the backend dispatch reaches the cpu casts and refuses a missing backend") {
  const std::vector<float> in = cast_test_inputs(33, 3);
  std::vector<half> a(in.size()), b(in.size());
  CastCounts ca, cb;
  cpu::cast_f32_to_f16(in.data(), a.data(), in.size(), &ca);
  cast_f32_to_f16(Backend::cpu, in.data(), b.data(), in.size(), &cb);
  CHECK(ca == cb);
  CHECK(std::memcmp(a.data(), b.data(), 2 * in.size()) == 0);
  if (!gpu_usable())
    CHECK_THROWS_AS(cast_f32_to_f16(Backend::cuda, in.data(), b.data(), in.size()), Error);
}
