/// @file gemm_kernel_run.hpp
/// @brief For the fp8 GEMM kernel's tests: the shapes they use and one GEMM run on a backend.
#pragma once

#include <cstdint>
#include <vector>

#include "common/device_memory.hpp"
#include "kernels/fp8/gemm.hpp"

namespace halfway::fp8::kernel_test {

/// Odd shapes: edge tiles in M, N and K, K below and above one mma's 32, and K = 0.
inline constexpr Fp8GemmShape kShapes[] = {{1, 1, 1}, {17, 9, 33}, {64, 40, 96}, {130, 7, 257}, {3, 70, 0}};
inline constexpr Fp8Format kFormats[] = {Fp8Format::e4m3, Fp8Format::e5m2};

/// C on `backend` (device buffers there), copied back.
inline std::vector<float> run(Backend backend, const Fp8GemmShape& s, const std::vector<std::uint8_t>& a, float sa,
                       const std::vector<std::uint8_t>& b, float sb) {
  const auto cn = static_cast<std::size_t>(s.m * s.n);
  if (backend == Backend::cpu) {
    std::vector<float> c(cn, -1.0f);
    fp8_gemm(backend, s, a.data(), sa, b.data(), sb, c.data());
    return c;
  }
  Buf<std::uint8_t> da = device_copy(backend, a), db = device_copy(backend, b);
  Buf<float> dc = device_copy(backend, std::vector<float>(cn, -1.0f));
  fp8_gemm(backend, s, da.data(), sa, db.data(), sb, dc.data());
  return to_host(backend, dc.data(), cn);
}

}  // namespace halfway::fp8::kernel_test
