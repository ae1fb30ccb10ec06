// The safetensors reader decodes 16-bit tensors itself (common/ needs nothing of kernels/):
// every F16 and BF16 word to its exact value, checked against values written out by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/safetensors.hpp"

using halfway::layers::SafeTensor;

namespace {

SafeTensor of_words(const char* dtype, const std::vector<std::uint16_t>& words) {
  SafeTensor t;
  t.dtype = dtype;
  t.shape = {std::int64_t(words.size())};
  t.bytes.resize(words.size() * 2);
  std::memcpy(t.bytes.data(), words.data(), t.bytes.size());
  return t;
}

}  // namespace

TEST_CASE("safetensors: F16 words are read as their exact values") {
  const std::vector<std::uint16_t> words{0x0000, 0x8000, 0x3c00, 0xc000, 0x3555, 0x7bff,
                                         0x0400, 0x0001, 0x83ff, 0x7c00, 0xfc00, 0x7e00};
  const std::vector<double> v = of_words("F16", words).as_double();
  CHECK(v[0] == 0.0);
  CHECK(std::signbit(v[1]));
  CHECK(v[2] == 1.0);
  CHECK(v[3] == -2.0);
  CHECK(v[4] == 0.333251953125);  // 0x3555: 1.0101010101b x 2^-2
  CHECK(v[5] == 65504.0);         // the largest finite half
  CHECK(v[6] == std::ldexp(1.0, -14));  // the smallest normal
  CHECK(v[7] == std::ldexp(1.0, -24));  // the smallest subnormal
  CHECK(v[8] == -std::ldexp(1023.0, -24));
  CHECK(v[9] == INFINITY);
  CHECK(v[10] == -INFINITY);
  CHECK(std::isnan(v[11]));
}

TEST_CASE("safetensors: every F16 word is exact and ordered like the halves it encodes") {
  // The positive finite halves 0x0000..0x7bff start at 0 and step by one unit in the last
  // place of the word before: 2^(e-25) in binade e >= 1, 2^-24 among the subnormals (e = 0).
  // The negative words are the same values with the sign flipped.
  std::vector<std::uint16_t> words(0x7c00);
  for (std::uint32_t w = 0; w < 0x7c00; ++w) words[w] = std::uint16_t(w);
  const std::vector<double> v = of_words("F16", words).as_double();
  for (std::uint32_t w = 0; w < 0x7c00; ++w) words[w] = std::uint16_t(w | 0x8000u);
  const std::vector<double> neg = of_words("F16", words).as_double();
  CHECK(v[0] == 0.0);
  for (std::uint32_t w = 1; w < 0x7c00; ++w) {
    const int e = int((w - 1) >> 10);
    REQUIRE(v[w] - v[w - 1] == std::ldexp(1.0, std::max(e, 1) - 25));
    REQUIRE(neg[w] == -v[w]);
  }
}

TEST_CASE("safetensors: BF16 words are the top halves of floats") {
  const std::vector<double> v = of_words("BF16", {0x3f80, 0xc049, 0x0001, 0x7f80, 0x7fc0}).as_double();
  CHECK(v[0] == 1.0);
  CHECK(v[1] == -3.140625);
  CHECK(v[2] == std::ldexp(1.0, -133));  // the smallest subnormal bf16
  CHECK(v[3] == INFINITY);
  CHECK(std::isnan(v[4]));
}
