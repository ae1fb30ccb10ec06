// Test support for chapter 02: build a GEMM problem on the host, run it on a backend,
// and compare every element of C with an fp64 reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/backend.hpp"
#include "kernels/gemm/gemm.hpp"

namespace halfway::ch02 {

/// How the inputs are drawn.
enum class Values {
  integers,  ///< integers in [-4, 4]: exact in fp16/bf16/fp32, exact sums in fp32
  random,    ///< uniform in [-2, 2), rounded to the input type (f32: as drawn)
};

/// One test problem. Leading dimensions are the tight ones plus `pad`; `align8` rounds
/// them up to multiples of 8 first (16-byte aligned rows: the kernels' vector paths);
/// `offset` shifts every base pointer by that many elements (1: unaligned bases).
struct Problem {
  Op op_a = Op::N, op_b = Op::N;
  int m = 1, n = 1, k = 1, batch = 1;
  DType in = DType::f16, out = DType::f32;
  float alpha = 1.0f, beta = 0.0f;
  int pad = 0;
  bool align8 = false;
  int offset = 0;
  bool broadcast_b = false;  ///< stride_b = 0: one B for the whole batch
  Values values = Values::integers;
  int best_variant = -1;     ///< >= 0: run kernel 6 with this tile shape (gemm_best_variant)
  std::uint64_t seed = 1;

  std::string describe() const;
};

/// A product's shape: C is m x n, the sum runs over k.
struct Shape3 {
  int m, n, k;
};

/// The problem every test starts from: layout l (op_a, op_b), shape s, input and output
/// types, how the inputs are filled; tight leading dimensions, one batch entry, alpha 1,
/// beta 0, seed 1. Each test then sets what it varies.
Problem problem(const Op* l, const Shape3& s, DType in = DType::f16, DType out = DType::f32,
                Values values = Values::integers);

/// What a comparison found: ok, or the first bad element and how many were bad.
struct Verdict {
  bool ok = true;
  std::int64_t bad = 0;
  std::string message;  ///< the first bad element, its value, the reference and the bound
};

/// Compares got[i] with ref[i]: |got - ref| <= bound[i] (bound 0: exact equality);
/// a NaN or an infinity in `got` is always a failure, whatever the bound says.
Verdict compare(const std::vector<double>& got, const std::vector<double>& ref,
                const std::vector<double>& bound);

/// Builds the problem, runs it with `kernel` on `backend`, compares with the fp64
/// reference: exact (after rounding the exact reference to C's type) for integer values,
/// within the bound derived in gemm_check.cpp for random values.
Verdict run_and_check(Backend backend, GemmKernel kernel, const Problem& p);

}  // namespace halfway::ch02
