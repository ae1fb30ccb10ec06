// Test support for the cpu GEMM's paths (test_cpu_paths.cpp, test_cpu_threads.cpp,
// test_cpu_small.cpp): random 16-bit inputs, a product's bytes, a loop over the paths.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fp16/convert_array.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/gemm/gemm.hpp"

namespace halfway::ch02 {

/// `count` values drawn uniformly from [-2, 2) and rounded to the 16-bit type `in`.
inline std::vector<std::uint16_t> random16(DType in, std::int64_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> f(static_cast<std::size_t>(count));
  for (float& x : f) x = u(rng);
  std::vector<std::uint16_t> h(f.size());
  convert_from_f32(in, f.data(), h.data(), count);
  return h;
}

/// C's bytes after the cpu GEMM of `shape` (its layouts, leading dimensions, strides,
/// types, alpha and beta) on random inputs over a random C (read when beta != 0).
inline std::vector<unsigned char> product_bytes(GemmArgs g) {
  std::mt19937 rng(11);
  const std::int64_t a_rows = g.op_a == Op::N ? g.m : g.k, b_rows = g.op_b == Op::N ? g.k : g.n;
  const auto a = random16(g.in, a_rows * g.lda + (g.batch - 1) * g.stride_a, rng);
  const auto b = random16(g.in, b_rows * g.ldb + (g.batch - 1) * g.stride_b, rng);
  const std::int64_t c_elems = std::int64_t(g.m) * g.ldc + (g.batch - 1) * g.stride_c;
  const std::size_t c_bytes = std::size_t(c_elems) * (g.out == DType::f32 ? 4 : 2);
  std::vector<unsigned char> c(c_bytes);
  if (g.out == DType::f32) {
    const auto h = random16(DType::bf16, c_elems, rng);  // random floats, exact in fp32
    std::vector<float> c0(h.size());
    convert_to_f32(DType::bf16, h.data(), c0.data(), c_elems);
    std::memcpy(c.data(), c0.data(), c_bytes);
  } else {
    const auto c0 = random16(g.out, c_elems, rng);
    std::memcpy(c.data(), c0.data(), c_bytes);
  }
  g.a = a.data();
  g.b = b.data();
  g.c = c.data();
  gemm(Backend::cpu, g);
  return c;
}

/// body(isa) for each cpu GEMM path this machine has, with the path in force; a doctest
/// message for each one it lacks.
template <class Body>
void for_each_cpu_path(Body body) {
  for (const CpuIsa isa : {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::avx512bf16, CpuIsa::amx}) {
    if (!cpu_isa_available(isa)) {
      MESSAGE("skipped: this machine (CPU, OS or build) has no " << to_string(isa) << " path");
      continue;
    }
    CAPTURE(to_string(isa));
    const ScopedCpuIsa scope(isa);
    body(isa);
  }
}

}  // namespace halfway::ch02
