// Tests of common/dtype.hpp: sizes, names and parsing.
#include <doctest/doctest.h>

#include <string>

#include "common/dtype.hpp"
#include "common/error.hpp"

using namespace halfway;

namespace {
// The text of the Error `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("dtype sizes names and parsing") {
  CHECK(size_of(DType::f32) == 4);
  CHECK(size_of(DType::f16) == 2);
  CHECK(size_of(DType::bf16) == 2);
  CHECK(std::string(to_string(DType::f32)) == "f32");
  CHECK(std::string(to_string(DType::f16)) == "f16");
  CHECK(std::string(to_string(DType::bf16)) == "bf16");
  CHECK(parse_dtype("f32") == DType::f32);
  CHECK(parse_dtype("fp16") == DType::f16);
  CHECK(parse_dtype("bfloat16") == DType::bf16);
  CHECK_THROWS_AS(parse_dtype("f8"), UsageError);
  CHECK(error_of([] { parse_dtype("int8"); }).find("found 'int8'") != std::string::npos);
}

