/// @file host_simd.hpp
/// @brief The host's hand-vectorised fast paths: whether this build has them, whether this
/// CPU runs them, and a switch that turns them off (for the tests that compare twins).
///
/// A few host loops have a fast path written with x86 intrinsics: the bulk fp16
/// conversions (F16C, kernels/fp16/convert_array.cpp), the 16-bit cpu GEMM's packing and
/// inner loops (AVX2, AVX-512, AVX512-BF16, AMX: kernels/gemm/cpu_isa.hpp picks one) and
/// the dropout mask (AVX-512, kernels/layers/dropout_simd.hpp). Every one of them
///  - is compiled only where HALFWAY_HOST_SIMD is 1: x86-64 with GCC or Clang, and not in
///    the HALFWAY_PLAIN_CPU build (cmake -DHALFWAY_PLAIN_CPU=ON). It is enabled by a
///    `target` attribute on its own functions, never by a global -m flag, so the rest of
///    the binary runs on any x86-64;
///  - is taken only when simd::has() says the CPU has the instructions (checked at run time,
///    and capped by HALFWAY_CPU_ISA: an AVX2 CPU measured on a wider one);
///  - has a plain C++ twin that gives the same bits, which the tests check on every machine
///    that has the fast one (chapters/02_gemm/tests, chapters/03_layers/tests/test_plain_cpu.cpp).
#pragma once

#include <atomic>
#include <cstdlib>
#include <string_view>

#if !defined(HALFWAY_PLAIN_CPU) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HALFWAY_HOST_SIMD 1
#else
#define HALFWAY_HOST_SIMD 0
#endif

namespace halfway::simd {

/// The instruction sets a fast path may need.
enum class Isa {
  f16c,    ///< AVX + F16C: 8 halves <-> 8 floats per instruction (x86-64 CPUs since 2012)
  avx512,  ///< AVX-512F + BMI2: 16 32-bit lanes, mask registers, pdep
  avx512bf16,  ///< AVX-512BW + AVX512-BF16: 32 floats -> 32 bf16 per VCVTNE2PS2BF16
  avx2,        ///< AVX2 + BMI2: 8 32-bit lanes, pdep (the dropout mask where AVX-512 is missing)
};

namespace detail {
inline std::atomic<int> forced_plain{0};
inline std::atomic<int> forced_off[4] = {0, 0, 0, 0};  // per Isa (ForceOff)

inline bool cpu_has(Isa isa) {
#if HALFWAY_HOST_SIMD
  static const bool f16c = [] {
    __builtin_cpu_init();  // safe even before main (doctest's registration runs there)
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  }();
  static const bool avx512 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2");
  }();
  static const bool avx512bf16 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
  }();
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
  }();
  switch (isa) {
    case Isa::f16c: return f16c;
    case Isa::avx512: return avx512;
    case Isa::avx512bf16: return avx512bf16;
    case Isa::avx2: return avx2;
  }
  return false;
#else
  (void)isa;
  return false;
#endif
}

// HALFWAY_CPU_ISA (kernels/gemm/cpu_isa.hpp: the cpu GEMM's path) also caps these paths,
// so that a forced path runs the whole host as a CPU with only its instructions would:
// generic takes no fast path, avx2 F16C and AVX2 only, avx512 no AVX512-BF16. How a Sapphire
// Rapids measures an AVX2-only CPU's step (with OPENBLAS_CORETYPE=Haswell for fp32).
// The rule: the level a value of HALFWAY_CPU_ISA allows (nullptr: unset), the level `isa` needs.
inline int cap_level(const char* cpu_isa) {
  const std::string_view s(cpu_isa ? cpu_isa : "");
  return s == "generic" ? 0 : s == "avx2" ? 1 : s == "avx512" ? 2 : 3;
}
inline int level_of(Isa isa) { return isa == Isa::f16c || isa == Isa::avx2 ? 1 : isa == Isa::avx512 ? 2 : 3; }
inline bool caps_off(const char* cpu_isa, Isa isa) { return level_of(isa) > cap_level(cpu_isa); }
inline bool capped_off(Isa isa) {
  static const int cap = cap_level(std::getenv("HALFWAY_CPU_ISA"));  // read once: has() is called per row
  return level_of(isa) > cap;
}
}  // namespace detail

/// Whether this build has the fast path for `isa` and this CPU can run it.
inline bool available(Isa isa) { return detail::cpu_has(isa); }

/// Whether the fast path for `isa` is taken now: available(), not forced off, and not
/// above HALFWAY_CPU_ISA's cap.
inline bool has(Isa isa) {
  return detail::forced_plain.load(std::memory_order_relaxed) == 0 &&
         detail::forced_off[int(isa)].load(std::memory_order_relaxed) == 0 && detail::cpu_has(isa) &&
         !detail::capped_off(isa);
}

/// While one is alive, every fast path takes its plain twin, on every thread (OpenMP's
/// workers included): how the tests run both twins on one machine.
class ForcePlain {
 public:
  ForcePlain() { detail::forced_plain.fetch_add(1); }
  ~ForcePlain() { detail::forced_plain.fetch_sub(1); }
  ForcePlain(const ForcePlain&) = delete;
  ForcePlain& operator=(const ForcePlain&) = delete;
};

/// While one is alive, the fast paths that need `isa` take the next one down (an AVX-512
/// conversion its F16C twin, ...): how the tests run every path a machine has.
class ForceOff {
 public:
  explicit ForceOff(Isa isa) : isa_(isa) { detail::forced_off[int(isa_)].fetch_add(1); }
  ~ForceOff() { detail::forced_off[int(isa_)].fetch_sub(1); }
  ForceOff(const ForceOff&) = delete;
  ForceOff& operator=(const ForceOff&) = delete;

 private:
  Isa isa_;
};

}  // namespace halfway::simd
