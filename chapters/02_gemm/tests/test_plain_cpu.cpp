// The cpu GEMM's bulk conversions: the AVX-512 and F16C fast paths and their plain twin
// (chapter 01's conversions, one element at a time) give the same bits
// (common/host_simd.hpp). Where the CPU has them all run here and are compared bit for bit; everywhere (the
// HALFWAY_PLAIN_CPU build included) the path that runs is also checked against the
// compiler's _Float16, an independent rounding.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "common/host_simd.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/gemm/gemm.hpp"

using namespace halfway;

namespace {

// Both paths of one conversion: `run` converts in place of its output, once as this CPU
// would and once with the fast paths forced off.
template <class Out, class Run>
void both(std::vector<Out>& fast, std::vector<Out>& plain, Run run) {
  run(fast.data());
  simd::ForcePlain force;
  run(plain.data());
}

float half_value(std::uint32_t h) {  // through _Float16, not chapter 01's code
  _Float16 x;
  const std::uint16_t b = std::uint16_t(h);
  std::memcpy(&x, &b, 2);
  return float(x);
}

// Floats that probe every rounding case of float -> half: every half's exact value and the
// midpoints around it (ties, both parities), a hair above and below each midpoint, the
// overflow edge (65519.996 rounds down, 65520 up to inf), float subnormals (to +-0), the
// half subnormal range, infinities, NaNs with several payloads and signs.
std::vector<float> probe_floats() {
  std::vector<float> x;
  for (std::uint32_t h = 0; h < 0x7c00u; ++h) {
    // the midpoint to the next half (65536 past the largest: the overflow edge 65520) is
    // exact in float (12 significant bits); a tie goes to the even one of h and h + 1
    const double v = half_value(h), next = h + 1 < 0x7c00u ? half_value(h + 1) : 65536.0;
    const float mid = float((v + next) / 2);
    for (const float f : {float(v), mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f)}) {
      x.push_back(f);
      x.push_back(-f);
    }
  }
  for (const float f : {65519.0f, 65519.996f, 65520.0f, 65536.0f, 1e30f, std::numeric_limits<float>::max(),
                        std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(),
                        std::ldexp(1.0f, -25), std::ldexp(1.5f, -25), std::ldexp(1.0f, -26),
                        std::numeric_limits<float>::infinity()}) {
    x.push_back(f);
    x.push_back(-f);
  }
  for (const std::uint32_t nan : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fbfffffu, 0x7fc01234u})
    x.push_back(bits_to_float(nan));
  for (int i = 0; i < 40; ++i) x.push_back(bits_to_float(0xffc00000u | std::uint32_t(i)));  // a whole block of NaNs
  x.push_back(1.0f);  // the length is not a multiple of 8: the fast path's tail runs too
  return x;
}

}  // namespace

TEST_CASE("cpu: bulk fp16 conversions: the AVX-512 and F16C paths and the plain twin give the same bits") {
  const bool f16c_fast_path = simd::available(simd::Isa::f16c), avx512_fast_path = simd::available(simd::Isa::avx512);
  CAPTURE(f16c_fast_path);
  CAPTURE(avx512_fast_path);
  std::optional<simd::ForceOff> no_avx512;  // the 16-wide conversions off: the 8-wide F16C ones run
  SUBCASE("the fastest path this CPU has") {}
  SUBCASE("AVX-512 off: the F16C path") {
    if (!avx512_fast_path) MESSAGE("this CPU has no AVX-512: the same path as the first subcase");
    no_avx512.emplace(simd::Isa::avx512);
  }
  // Half to float, every one of the 65536 halves (NaNs keep sign and payload, made quiet).
  std::vector<std::uint16_t> all(65536);
  for (int i = 0; i < 65536; ++i) all[std::size_t(i)] = std::uint16_t(i);
  std::vector<float> wide_fast(65536), wide_plain(65536);
  both(wide_fast, wide_plain, [&](float* out) { convert_to_f32(DType::f16, all.data(), out, 65536); });
  CHECK(std::memcmp(wide_fast.data(), wide_plain.data(), 65536 * sizeof(float)) == 0);
  int mismatches = 0;
  for (int i = 0; i < 65536; ++i) {
    _Float16 h;
    std::memcpy(&h, &all[std::size_t(i)], 2);
    const float expect = float(h);
    const float got = wide_plain[std::size_t(i)];
    if (expect != expect ? got == got : std::memcmp(&got, &expect, 4) != 0) ++mismatches;
  }
  CHECK(mismatches == 0);

  // Float to half over the probes (and an odd-length tail), then the 65536 floats back.
  for (const auto& x : {probe_floats(), wide_plain}) {
    std::vector<std::uint16_t> fast(x.size()), plain(x.size());
    both(fast, plain, [&](std::uint16_t* out) { convert_from_f32(DType::f16, x.data(), out, std::int64_t(x.size())); });
    CHECK(fast == plain);
    mismatches = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const _Float16 h = static_cast<_Float16>(x[i]);
      std::uint16_t expect;
      std::memcpy(&expect, &h, 2);
      if (x[i] != x[i]) expect = 0x7fff;  // the course's NaN, as CUDA's
      if (plain[i] != expect) ++mismatches;
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("cpu: bulk bf16 rounding: the VCVTNE2PS2BF16 and AVX2 paths and the plain twin give the same bits") {
  const bool fast_path = simd::available(simd::Isa::avx512bf16);
  CAPTURE(fast_path);
  if (!fast_path) MESSAGE("this CPU has no AVX512-BF16: the plain twin runs on both sides");
  // Probes of every rounding case of float -> bf16: for a spread of bf16 values b (every
  // 7th pattern, all exponents), b itself, the midpoint to the next (a tie: to even), a
  // hair either side of it; then the cases the instruction treats differently from the
  // rule: float denormals (which it reads as zero; a block with one takes the plain loop),
  // NaNs with payloads (the course's NaN is 0x7fff), infinities and the overflow edge.
  std::vector<float> x;
  for (std::uint32_t b = 0; b < 0x7f80u; b += 7) {
    const float v = bits_to_float(b << 16), mid = bits_to_float((b << 16) | 0x8000u);
    for (const float f : {v, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e38f)}) {
      x.push_back(f);
      x.push_back(-f);
    }
  }
  const std::size_t plain_blocks = x.size();
  for (const float f : {std::numeric_limits<float>::denorm_min(), bits_to_float(0x00408000u), bits_to_float(0x007fffffu),
                        std::numeric_limits<float>::min(), std::numeric_limits<float>::max(), bits_to_float(0x7f7f8000u),
                        std::numeric_limits<float>::infinity()}) {
    x.push_back(f);
    x.push_back(-f);
  }
  for (const std::uint32_t nan : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fbfffffu, 0x7fc01234u})
    x.push_back(bits_to_float(nan));
  for (int i = 0; i < 40; ++i) x.push_back(bits_to_float(0x7fc00000u | std::uint32_t(i)));  // a block of NaNs only
  x.push_back(1.0f);  // not a multiple of 32: the tail runs too
  CAPTURE(plain_blocks);
  std::vector<std::uint16_t> fast(x.size()), plain(x.size());
  both(fast, plain, [&](std::uint16_t* out) { convert_from_f32(DType::bf16, x.data(), out, std::int64_t(x.size())); });
  CHECK(fast == plain);
  {  // the AVX2 path (AVX512-BF16 forced off), where the CPU has AVX2
    std::vector<std::uint16_t> avx2(x.size());
    simd::ForceOff no_units(simd::Isa::avx512bf16);
    convert_from_f32(DType::bf16, x.data(), avx2.data(), std::int64_t(x.size()));
    CHECK(avx2 == plain);
  }
  int nans = 0, not_course_nan = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i] != x[i]) {
      ++nans;
      not_course_nan += fast[i] != 0x7fff;
    }
  CHECK(nans == 46);
  CHECK(not_course_nan == 0);
}

TEST_CASE("cpu: bulk bf16 widening: the AVX-512 and AVX2 paths and the plain twin give the same bits") {
  const bool fast_path = simd::available(simd::Isa::avx512);
  CAPTURE(fast_path);
  if (!fast_path) MESSAGE("this CPU has no AVX-512: the plain twin runs on both sides");
  // Every one of the 65536 bf16 patterns (NaN payloads included) and a tail of 7.
  std::vector<std::uint16_t> all(65536 + 7);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = std::uint16_t(i * 40503u);  // odd: a permutation
  std::vector<float> fast(all.size()), plain(all.size());
  both(fast, plain, [&](float* out) { convert_to_f32(DType::bf16, all.data(), out, std::int64_t(all.size())); });
  CHECK(std::memcmp(fast.data(), plain.data(), fast.size() * sizeof(float)) == 0);
  {  // the AVX2 path (AVX-512 forced off), where the CPU has AVX2
    std::vector<float> avx2(all.size());
    simd::ForceOff no_avx512(simd::Isa::avx512);
    convert_to_f32(DType::bf16, all.data(), avx2.data(), std::int64_t(all.size()));
    CHECK(std::memcmp(avx2.data(), plain.data(), avx2.size() * sizeof(float)) == 0);
  }
  int wrong = 0;  // and each is the pattern in the float's top half, the low half zero
  for (std::size_t i = 0; i < all.size(); ++i) wrong += float_to_bits(fast[i]) != std::uint32_t(all[i]) << 16;
  CHECK(wrong == 0);
}

TEST_CASE("cpu: HALFWAY_CPU_ISA caps the host's other fast paths as a CPU with only that path's instructions") {
  // avx2: F16C and AVX2 (no AVX-512 conversions, dropout masks or epilogue adds); avx512: no
  // AVX512-BF16 rounding; generic: no fast path at all; unset or a wider path: no cap.
  using simd::Isa;
  using simd::detail::caps_off;
  for (const Isa isa : {Isa::f16c, Isa::avx2, Isa::avx512, Isa::avx512bf16}) {
    CHECK(caps_off("generic", isa));
    CHECK_FALSE(caps_off(nullptr, isa));
    CHECK_FALSE(caps_off("amx", isa));
    CHECK_FALSE(caps_off("avx512bf16", isa));
  }
  CHECK_FALSE(caps_off("avx2", Isa::f16c));
  CHECK_FALSE(caps_off("avx2", Isa::avx2));
  CHECK(caps_off("avx2", Isa::avx512));
  CHECK(caps_off("avx2", Isa::avx512bf16));
  CHECK_FALSE(caps_off("avx512", Isa::avx512));
  CHECK(caps_off("avx512", Isa::avx512bf16));
  // This process's own cap is the rule applied to its environment.
  const char* env = std::getenv("HALFWAY_CPU_ISA");
  for (const Isa isa : {Isa::f16c, Isa::avx2, Isa::avx512, Isa::avx512bf16})
    CHECK(simd::has(isa) == (simd::available(isa) && !caps_off(env, isa)));
}
