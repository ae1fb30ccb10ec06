/// @file cpu_isa.hpp
/// @brief Which instruction set the cpu GEMM's 16-bit path runs on, chosen at run time.
///
/// The cpu backend multiplies fp16 and bf16 matrices with its own packed GEMM
/// (kernels/gemm/gemm_cpu_packed.hpp). Its inner loop comes in four builds:
/// - `generic`: plain C++, any CPU, any compiler (the only one in the HALFWAY_PLAIN_CPU build);
/// - `avx2`: AVX2 + FMA + F16C, 8 fp32 lanes (x86-64 CPUs since 2013);
/// - `avx512`: AVX-512F, 16 fp32 lanes (Skylake-X and later Xeons, Zen 4);
/// - `avx512bf16`: AVX-512 with VDPBF16PS, which multiplies bf16 pairs and adds both
///   products to an fp32 lane in one instruction (Cooper Lake, Sapphire Rapids, Zen 4);
/// - `amx`: AMX-BF16 tiles, 16 x 32 bf16 times 32 x 16 bf16 into 16 x 16 fp32 per
///   instruction (Sapphire Rapids and later; Linux must grant the tile state first).
/// The last two are the CPU's tensor cores: bf16 inputs, fp32 accumulation, their own
/// order of additions. fp16 inputs on them take the AVX-512 fp32 loop.
///
/// The default is amx where the CPU has it, else the widest fp32 path (avx512, avx2,
/// generic): avx512bf16 is taken only when asked for, because on the Xeon this course was
/// measured on (Sapphire Rapids class) VDPBF16PS issues once every two cycles, 32 flops per
/// cycle against 64 for two AVX-512 FMAs (chapter 07's lesson has the numbers).
/// `HALFWAY_CPU_ISA=generic|avx2|avx512|avx512bf16|amx` forces a path (one the CPU lacks is
/// an Error), so that every machine can run and compare the paths it has; generic, avx2
/// and avx512 also cap the host's other fast paths at their instructions
/// (common/host_simd.hpp), so a wide CPU can run as a narrower one would;
/// simd::ForcePlain forces `generic`.
#pragma once

#include <string_view>

namespace halfway {

/// The cpu GEMM's instruction-set paths, from the plain one to the widest.
enum class CpuIsa { generic, avx2, avx512, avx512bf16, amx };

/// "generic", "avx2", "avx512", "avx512bf16", "amx".
std::string_view to_string(CpuIsa isa);

/// Whether this build has the path and this CPU (and, for amx, the OS) can run it.
bool cpu_isa_available(CpuIsa isa);

/// The path the cpu GEMM takes now: a ScopedCpuIsa's, else HALFWAY_CPU_ISA's, else the
/// best available one; always `generic` while a simd::ForcePlain is alive. Throws
/// halfway::Error for an unknown HALFWAY_CPU_ISA or a path this machine lacks.
CpuIsa cpu_isa();

/// While one is alive, cpu_isa() is `isa` on every thread (the tests run each path with
/// it). Throws halfway::Error if the path is not available.
class ScopedCpuIsa {
 public:
  explicit ScopedCpuIsa(CpuIsa isa);
  ~ScopedCpuIsa();
  ScopedCpuIsa(const ScopedCpuIsa&) = delete;
  ScopedCpuIsa& operator=(const ScopedCpuIsa&) = delete;

 private:
  int previous_;
};

}  // namespace halfway
