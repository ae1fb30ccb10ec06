// The GPU draws exactly the host's random numbers (common/rng.hpp): every bit of bits(),
// uniform(), normal() and keep() for the same (seed, offset).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/rng.hpp"

namespace halfway::testing {
void rng_draw_on_gpu(std::uint64_t seed, std::uint64_t offset0, int n, float p_drop,
                     std::vector<std::uint32_t>& bits, std::vector<float>& uniform,
                     std::vector<float>& normal, std::vector<unsigned char>& keep);
}

using namespace halfway;

TEST_CASE("the gpu draws the same random numbers as the host") {
  struct Case {
    std::uint64_t seed, offset0;
  };
  const Case cases[] = {{0, 0}, {2026, 1ull << 32}, {0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFFFFF00000ull}};
  constexpr int n = 1 << 20;
  const float p_drop = 0.25f;
  for (const Case& c : cases) {
    CAPTURE(c.seed);
    std::vector<std::uint32_t> bits;
    std::vector<float> uniform, normal;
    std::vector<unsigned char> keep;
    testing::rng_draw_on_gpu(c.seed, c.offset0, n, p_drop, bits, uniform, normal, keep);
    int bad_bits = 0, bad_uniform = 0, bad_normal = 0, bad_keep = 0, first_bad_normal = -1;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t off = c.offset0 + static_cast<std::uint64_t>(i);
      bad_bits += bits[i] != rng::bits(c.seed, off);
      const float u = rng::uniform(c.seed, off), z = rng::normal(c.seed, off);
      bad_uniform += std::memcmp(&uniform[i], &u, sizeof u) != 0;
      const bool normal_differs = std::memcmp(&normal[i], &z, sizeof z) != 0;
      if (normal_differs && first_bad_normal < 0) first_bad_normal = i;
      bad_normal += normal_differs;
      bad_keep += (keep[i] != 0) != rng::keep(c.seed, off, p_drop);
    }
    CHECK(bad_bits == 0);
    CHECK(bad_uniform == 0);
    CHECK_MESSAGE(bad_normal == 0, "first difference at offset " << first_bad_normal);
    CHECK(bad_keep == 0);
  }
}
