// Tests of common/dtype.hpp and common/tensor.hpp.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/backend.hpp"
#include "common/dtype.hpp"
#include "common/error.hpp"
#include "common/tensor.hpp"

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

struct TwoBytes {  // stands in for chapter 01's half types
  std::uint16_t bits;
  bool operator==(const TwoBytes&) const = default;
};
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
  static_assert(dtype_accepts<float>(DType::f32));
  static_assert(!dtype_accepts<std::uint32_t>(DType::f32));
  static_assert(dtype_accepts<std::uint16_t>(DType::f16));
  static_assert(dtype_accepts<TwoBytes>(DType::bf16));
  static_assert(!dtype_accepts<float>(DType::bf16));
}

TEST_CASE("shape counts and prints its dimensions") {
  const Shape s{32, 128};
  CHECK(s.rank() == 2);
  CHECK(s.numel() == 4096);
  CHECK(s[0] == 32);
  CHECK(s[-1] == 128);
  CHECK(s.to_string() == "[32, 128]");
  CHECK(Shape{}.to_string() == "[]");
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{3, 0, 5}.numel() == 0);
  CHECK(Shape{2, 3} == Shape(std::vector<std::int64_t>{2, 3}));
  CHECK_FALSE(Shape{2, 3} == Shape{3, 2});
  CHECK_FALSE(Shape{6} == Shape{6, 1});
  CHECK(error_of([] { Shape{2, -1}; }) == "Shape: expected dimensions >= 0, found [2, -1]");
  CHECK(error_of([] { Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}; }).find("at most 8 dimensions, found 9") !=
        std::string::npos);
  CHECK(error_of([&] { (void)s[2]; }).find("found 2") != std::string::npos);
  CHECK(error_of([&] { (void)s[-3]; }).find("found -3") != std::string::npos);
  CHECK(error_of([] { Shape{1ll << 40, 1ll << 40}; }).find("2^63") != std::string::npos);
}

TEST_CASE("tensor from_vector and to_vector round trip") {
  const std::vector<float> v{1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
  const Tensor t = Tensor::from_vector(v, {2, 3});
  CHECK(t.dtype() == DType::f32);
  CHECK(t.backend() == Backend::cpu);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.rank() == 2);
  CHECK(t.numel() == 6);
  CHECK(t.bytes() == 24);
  CHECK(t.to_string() == "f32 [2, 3] on cpu");
  const std::vector<float> back = t.to_vector<float>();
  REQUIRE(back.size() == v.size());
  CHECK(std::memcmp(back.data(), v.data(), sizeof(float) * v.size()) == 0);  // -0 kept
  CHECK(t.data<float>()[2] == 3.25f);
}

TEST_CASE("tensor holds 16-bit elements as their bits") {
  const std::vector<std::uint16_t> bits{0x3C00, 0xC000, 0x7C00, 0x0001};  // f16 1, -2, inf, tiniest
  const Tensor h = Tensor::from_vector(bits, {4}, DType::f16);
  CHECK(h.bytes() == 8);
  CHECK(h.to_vector<std::uint16_t>() == bits);
  const std::vector<TwoBytes> as_struct = h.to_vector<TwoBytes>();
  CHECK(as_struct[1].bits == 0xC000);
  const Tensor b = Tensor::from_vector(as_struct, {2, 2}, DType::bf16, Backend::emu);
  CHECK(b.backend() == Backend::emu);
  CHECK(b.to_vector<std::uint16_t>() == bits);
}

TEST_CASE("tensor reports type and size mismatches") {
  Tensor t = Tensor::zeros({2, 3}, DType::f16);
  CHECK(error_of([&] { t.data<float>(); }) ==
        "Tensor::data: expected a 2-byte type for a f16 tensor, found a 4-byte type");
  Tensor f = Tensor::zeros({2}, DType::f32);
  CHECK(error_of([&] { f.data<std::uint16_t>(); }) ==
        "Tensor::data: expected float for a f32 tensor, found a 2-byte type");
  CHECK(error_of([&] { f.to_vector<std::uint32_t>(); }) ==
        "Tensor::to_vector: expected float for a f32 tensor, found a 4-byte type that is not float");
  CHECK(error_of([] { Tensor::from_vector({1.0f, 2.0f, 3.0f, 4.0f, 5.0f}, {2, 3}); }) ==
        "Tensor::from_vector: expected 6 values for shape [2, 3], found 5");
  CHECK(error_of([] { Tensor::from_vector(std::vector<float>{1.0f}, {1}, DType::f16); })
            .find("expected a 2-byte type for a f16 tensor") != std::string::npos);
  CHECK(error_of([&] { t.require_shape({3, 2}, "layernorm input"); }) ==
        "layernorm input: expected shape [3, 2], found [2, 3]");
  CHECK(error_of([&] { t.require_dtype(DType::bf16, "gemm A"); }) ==
        "gemm A: expected dtype bf16, found f16");
  CHECK(error_of([&] { t.require_backend(Backend::emu, "kernel"); }) ==
        "kernel: expected a tensor on emu, found one on cpu");
  CHECK(error_of([&] { t.require_shape({2, 3}, "ok"); }).empty());
  CHECK(error_of([&] { t.reshape({4, 2}); }) ==
        "Tensor::reshape of f16 [2, 3] on cpu: expected a shape of 6 elements, found [4, 2] (8 elements)");
  Tensor g = Tensor::zeros({3, 2}, DType::f16);
  CHECK(error_of([&] { t.copy_from(g); }) == "Tensor::copy_from source: expected shape [2, 3], found [3, 2]");
  Tensor h = Tensor::zeros({2, 3}, DType::bf16);
  CHECK(error_of([&] { t.copy_from(h); }) == "Tensor::copy_from source: expected dtype f16, found bf16");
}

TEST_CASE("tensor zeros reshape clone and copies between host backends") {
  Tensor z = Tensor::zeros({5, 7}, DType::f32, Backend::emu);
  for (float x : z.to_vector<float>()) REQUIRE(x == 0.0f);
  // Host memory is aligned to 64 bytes (a cache line; any SIMD load).
  CHECK(reinterpret_cast<std::uintptr_t>(z.raw()) % 64 == 0);
  CHECK(reinterpret_cast<std::uintptr_t>(Tensor::zeros({3}, DType::bf16).raw()) % 64 == 0);

  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = a.to(Backend::emu);
  CHECK(b.backend() == Backend::emu);
  CHECK(b.raw() != a.raw());
  b.data<float>()[0] = 42;  // a copy: the original is untouched
  CHECK(a.to_vector<float>()[0] == 1);
  a.copy_from(b);
  CHECK(a.to_vector<float>()[0] == 42);
  Tensor c = a.clone();
  CHECK(c.backend() == Backend::cpu);
  CHECK(c.to_vector<float>() == a.to_vector<float>());
  c.reshape({3, 2});
  CHECK(c.shape() == Shape{3, 2});
  c.reshape({6});
  CHECK(c.to_vector<float>() == a.to_vector<float>());
  c.zero();
  CHECK(c.to_vector<float>() == std::vector<float>(6, 0.0f));
}

TEST_CASE("tensor moves its memory and leaves the source empty") {
  Tensor a = Tensor::from_vector({1, 2, 3}, {3});
  void* p = a.raw();
  Tensor b = std::move(a);
  CHECK(b.raw() == p);
  CHECK(a.raw() == nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CHECK(a.numel() == 0);
  Tensor c;
  CHECK(c.numel() == 0);
  CHECK(c.to_vector<float>().empty());
  c = std::move(b);
  CHECK(c.raw() == p);
  CHECK(c.to_vector<float>() == std::vector<float>{1, 2, 3});
  Tensor empty = Tensor::zeros({0, 4}, DType::f16);
  CHECK(empty.raw() == nullptr);
  CHECK(empty.to(Backend::emu).numel() == 0);
}

TEST_CASE("tensor on the cuda backend round trips or explains why it cannot") {
  if (!gpu_usable()) {
    const std::string why = error_of([] { Tensor::zeros({4}, DType::f32, Backend::cuda); });
    CHECK(why.find("cuda backend: expected") != std::string::npos);
    return;
  }
  const std::vector<float> v{1, -2, 3, -4, 5};
  Tensor d = Tensor::from_vector(v, {5}, Backend::cuda);
  CHECK(d.backend() == Backend::cuda);
  CHECK(d.to_vector<float>() == v);
  Tensor e = d.clone();
  CHECK(e.to(Backend::emu).to_vector<float>() == v);
  e.zero();
  CHECK(e.to_vector<float>() == std::vector<float>(5, 0.0f));
  d.copy_from(e);
  CHECK(d.to_vector<float>() == std::vector<float>(5, 0.0f));
}
