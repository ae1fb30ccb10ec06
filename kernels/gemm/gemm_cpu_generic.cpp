// The packed GEMM's plain C++ path (gemm_cpu_packed.hpp): always built, the only one in
// the HALFWAY_PLAIN_CPU build, and the twin the SIMD fp32 paths must equal bit for bit.
#include <cstring>

#include "kernels/fp16/half.hpp"
#include "kernels/gemm/gemm_cpu_packed.hpp"

namespace halfway {

namespace {

constexpr int kMr = 4, kNr = 8;  // 32 accumulators: the compiler keeps them in SSE registers

float to_f32(DType in, std::uint16_t v) { return in == DType::bf16 ? bf16_bits_to_float(v) : half_bits_to_float(v); }

// fp32 layout: dst[p * R + r]. The loop order follows whichever stride is 1.
template <int R>
void pack_f32(DType in, const std::uint16_t* src, std::int64_t rs, std::int64_t ps, int rows, int k, int kp,
              void* out) {
  auto* dst = static_cast<float*>(out);
  std::memset(dst, 0, sizeof(float) * std::size_t(kp) * R);
  if (rs == 1) {
    for (int p = 0; p < k; ++p)
      for (int r = 0; r < rows; ++r) dst[p * R + r] = to_f32(in, src[r + p * ps]);
  } else {
    for (int r = 0; r < rows; ++r)
      for (int p = 0; p < k; ++p) dst[p * R + r] = to_f32(in, src[r * rs + p * ps]);
  }
}

void micro(int kp, const void* av, const void* bv, float* tile, std::int64_t ldt) {
  const auto* a = static_cast<const float*>(av);
  const auto* b = static_cast<const float*>(bv);
  float acc[kMr][kNr] = {};
  for (int p = 0; p < kp; ++p)
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j) acc[i][j] += a[p * kMr + i] * b[p * kNr + j];
  for (int i = 0; i < kMr; ++i) std::memcpy(tile + i * ldt, acc[i], sizeof acc[i]);
}

}  // namespace

const GemmCpuPath gemm_cpu_paths::generic{"generic", kMr, kNr, 1, 4, pack_f32<kMr>, pack_f32<kNr>, micro, nullptr};

}  // namespace halfway
