// The run-time choice of the cpu GEMM's path (cpu_isa.hpp): cpuid, the Linux permission
// AMX needs, and HALFWAY_CPU_ISA.
#include "kernels/gemm/cpu_isa.hpp"

#include <atomic>
#include <cstdlib>
#include <string>

#include "common/error.hpp"
#include "common/host_simd.hpp"

#if HALFWAY_HOST_SIMD
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

namespace halfway {

namespace {

constexpr CpuIsa kAll[] = {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::avx512bf16, CpuIsa::amx};

#if HALFWAY_HOST_SIMD
// AMX's tile data (8 KiB of registers) is off until the process asks Linux for it once:
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). Without the grant, the first tile
// instruction kills the process with SIGILL.
bool amx_granted() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

bool detect(CpuIsa isa) {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  unsigned a = 0, b = 0, c = 0, d = 0;
  // cpuid leaf 7, subleaf 1, EAX bit 5: AVX512_BF16. Subleaf 0, EDX bits 22 and 24:
  // AMX-BF16 and AMX-TILE.
  const bool bf16 = avx512 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1);
  const bool amx = bf16 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 22 & 1) && (d >> 24 & 1);
  switch (isa) {
    case CpuIsa::generic: return true;
    case CpuIsa::avx2: return avx2;
    case CpuIsa::avx512: return avx512;
    case CpuIsa::avx512bf16: return bf16;
    case CpuIsa::amx: return amx && amx_granted();
  }
  return false;
}
#endif

std::atomic<int> scoped{-1};  // a ScopedCpuIsa's path, -1: none

std::string available_list() {
  std::string s;
  for (const CpuIsa isa : kAll)
    if (cpu_isa_available(isa)) s += (s.empty() ? "" : ", ") + std::string(to_string(isa));
  return s;
}

void expect_available(CpuIsa isa, const std::string& who) {
  HALFWAY_EXPECT(cpu_isa_available(isa), who + ": a path this build and CPU have (" + available_list() + ")",
                 std::string(to_string(isa)) + (HALFWAY_HOST_SIMD ? "" : " (this build compiles no SIMD code)"));
}

// HALFWAY_CPU_ISA, read once; an Error (every call) if it names no path or one missing here.
CpuIsa from_environment() {
  static const int chosen = [] {
    const char* v = std::getenv("HALFWAY_CPU_ISA");
    if (!v || !*v) {
      // The default: tiles, else the widest fp32 path (cpu_isa.hpp: why not avx512bf16).
      for (const CpuIsa isa : {CpuIsa::amx, CpuIsa::avx512, CpuIsa::avx2})
        if (cpu_isa_available(isa)) return int(isa);
      return int(CpuIsa::generic);
    }
    for (const CpuIsa isa : kAll)
      if (to_string(isa) == v) return int(isa);
    return -1;
  }();
  if (chosen < 0)
    throw Error(std::string("HALFWAY_CPU_ISA: expected generic, avx2, avx512, avx512bf16 or amx, found '") +
                std::getenv("HALFWAY_CPU_ISA") + "'");
  expect_available(CpuIsa(chosen), "HALFWAY_CPU_ISA");
  return CpuIsa(chosen);
}

}  // namespace

std::string_view to_string(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::generic: return "generic";
    case CpuIsa::avx2: return "avx2";
    case CpuIsa::avx512: return "avx512";
    case CpuIsa::avx512bf16: return "avx512bf16";
    case CpuIsa::amx: return "amx";
  }
  return "?";
}

bool cpu_isa_available(CpuIsa isa) {
#if HALFWAY_HOST_SIMD
  static const bool has[] = {true, detect(CpuIsa::avx2), detect(CpuIsa::avx512), detect(CpuIsa::avx512bf16),
                             detect(CpuIsa::amx)};
  return has[int(isa)];
#else
  return isa == CpuIsa::generic;
#endif
}

CpuIsa cpu_isa() {
  // A simd::ForcePlain turns every fast path off, this one included.
  if (simd::available(simd::Isa::f16c) && !simd::has(simd::Isa::f16c)) return CpuIsa::generic;
  const int s = scoped.load(std::memory_order_relaxed);
  return s >= 0 ? CpuIsa(s) : from_environment();
}

ScopedCpuIsa::ScopedCpuIsa(CpuIsa isa) : previous_(scoped.load()) {
  expect_available(isa, "ScopedCpuIsa");
  scoped.store(int(isa));
}

ScopedCpuIsa::~ScopedCpuIsa() { scoped.store(previous_); }

}  // namespace halfway
