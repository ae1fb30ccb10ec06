// The packed GEMM's small-product path (gemm_cpu_small.hpp): the rule, the driver (widen
// one batch entry, run the path's register loop, the epilogue) and the plain C++ loop,
// the twin the SIMD ones (gemm_cpu_small_simd.cpp) must equal bit for bit.
#include "kernels/gemm/gemm_cpu_small.hpp"

#include <algorithm>
#include <atomic>

#include "common/host_simd.hpp"
#include "kernels/fp16/convert_array.hpp"

namespace halfway {

namespace {

// Each of the entry's fp32 buffers (op(A), op(B) padded, the result, a row of C) holds at
// most this many floats: 16 KiB each on the stack, the first three in L1 while the entry
// is computed.
constexpr int kMaxFloats = 4096;

// Up to this many multiply-adds per entry. Measured on this course's AVX-512 machine,
// fp16, one thread, batches of 64-128: the small path took 0.25-0.4x the packed driver's
// time at the attention's 5 x 5 x 32, 0.5-0.75x at 20 x 20 x 32, and tied it at 32 x 32 x 32
// (the packed 8 x 32 register block is paid back there), so the rule stops at 32^3.
constexpr std::int64_t kMaxMacs = 32 * 32 * 32;

std::atomic<std::int64_t> small_calls{0};
std::atomic<int> packed_only{0};

// The plain twin: rows one at a time, each accumulator from +0 through p = 0, 1, ...
void run_plain(int m, int k, int ldt, const float* a, std::int64_t a_rs, std::int64_t a_ps, const float* b,
               float* t) {
  for (int i = 0; i < m; ++i) {
    float* ti = t + std::int64_t(i) * ldt;
    std::fill(ti, ti + ldt, 0.0f);
    for (int p = 0; p < k; ++p) {
      const float ai = a[i * a_rs + p * a_ps];
      const float* bp = b + std::int64_t(p) * ldt;
      for (int j = 0; j < ldt; ++j) ti[j] += ai * bp[j];
    }
  }
}

// The register loop for `path`, or null where its arithmetic is not fp32 FMAs in the
// order k = 0, 1, ... (bf16 on the dot-product units).
const GemmSmallKernel* kernel_for(const GemmCpuPath& path) {
  if (&path == &gemm_cpu_paths::generic) return &gemm_small_kernels::generic;
#if HALFWAY_HOST_SIMD
  if (&path == &gemm_cpu_paths::avx2) return &gemm_small_kernels::avx2;
  if (&path == &gemm_cpu_paths::avx512) return &gemm_small_kernels::avx512;
#endif
  return nullptr;
}

int padded(int n, int width) { return (n + width - 1) / width * width; }

// Widens rows x cols values (leading dimension ld) into dst (leading dimension ldd): as
// one row where both are contiguous (the attention's heads are).
void widen(const GemmSmallKernel& kernel, DType in, const std::uint16_t* src, std::int64_t ld, int rows, int cols,
           float* dst, int ldd) {
  if (ld == cols && ldd == cols) kernel.widen_rows(in, src, ld, 1, rows * cols, dst, rows * cols);
  else kernel.widen_rows(in, src, ld, rows, cols, dst, ldd);
}

// The plain twins of the widening: the bulk conversions, and a scatter for the transpose.
void widen_rows_plain(DType in, const std::uint16_t* src, std::int64_t ld, int rows, int cols, float* dst, int ldd) {
  for (int r = 0; r < rows; ++r) convert_to_f32(in, src + r * ld, dst + std::int64_t(r) * ldd, cols);
}

void widen_transposed_plain(DType in, const std::uint16_t* src, std::int64_t ld, int rows, int cols, float* dst,
                            int ldd) {
  float row[kMaxFloats];
  for (int r = 0; r < rows; ++r) {
    convert_to_f32(in, src + r * ld, row, cols);
    for (int c = 0; c < cols; ++c) dst[std::int64_t(c) * ldd + r] = row[c];
  }
}

}  // namespace

const GemmSmallKernel gemm_small_kernels::generic{4, widen_rows_plain, widen_transposed_plain, run_plain};

bool gemm_cpu_small_fits(const GemmArgs& g, const GemmCpuPath& path) {
  const GemmSmallKernel* kernel = kernel_for(path);
  if (kernel == nullptr || g.bias != nullptr) return false;  // no bias epilogue here: the packed path adds it
  const std::int64_t m = g.m, k = g.k, ldt = padded(g.n, kernel->width);
  return m * k <= kMaxFloats && k * ldt <= kMaxFloats && m * ldt <= kMaxFloats && m * g.n * k <= kMaxMacs;
}

bool gemm_cpu_small(const GemmArgs& g, const GemmCpuPath& path) {
  if (packed_only.load(std::memory_order_relaxed) != 0 || !gemm_cpu_small_fits(g, path)) return false;
  small_calls.fetch_add(1, std::memory_order_relaxed);
  const GemmSmallKernel& kernel = *kernel_for(path);
  const int m = g.m, n = g.n, k = g.k, ldt = padded(n, kernel.width);
  // op(A)(i, p) = a[i * a_rs + p * a_ps] in the widened copy of the stored A.
  const bool a_n = g.op_a == Op::N;
  const std::int64_t a_rs = a_n ? k : 1, a_ps = a_n ? 1 : m;
  alignas(64) float a[kMaxFloats], b[kMaxFloats], t[kMaxFloats];
  alignas(64) float row[kMaxFloats];  // a row of a 16-bit C, read when beta != 0
  std::fill(b, b + std::int64_t(k) * ldt, 0.0f);  // the padding columns stay 0 for every entry
  const bool c16 = g.out != DType::f32;
  for (int z = 0; z < g.batch; ++z) {
    const auto* az = static_cast<const std::uint16_t*>(g.a) + z * g.stride_a;
    const auto* bz = static_cast<const std::uint16_t*>(g.b) + z * g.stride_b;
    widen(kernel, g.in, az, g.lda, a_n ? m : k, a_n ? k : m, a, a_n ? k : m);
    if (g.op_b == Op::N)  // stored k x n: its rows are b's
      widen(kernel, g.in, bz, g.ldb, k, n, b, ldt);
    else  // stored n x k: its rows are b's columns
      kernel.widen_transposed(g.in, bz, g.ldb, n, k, b, ldt);
    kernel.run(m, k, ldt, a, a_rs, a_ps, b, t);
    // The packed driver's epilogue, element for element: alpha t (+ beta C) in fp32,
    // nothing read when beta is 0, a 16-bit C rounded once. (alpha t with alpha = 1 is t
    // itself, bit for bit: the driver's copy of t.)
    auto* c32 = c16 ? nullptr : static_cast<float*>(g.c) + z * g.stride_c;
    auto* c_half = c16 ? static_cast<std::uint16_t*>(g.c) + z * g.stride_c : nullptr;
    for (int i = 0; i < m; ++i) {
      const float* ti = t + std::int64_t(i) * ldt;
      float* out = c16 ? t + std::int64_t(i) * ldt : c32 + i * g.ldc;
      if (g.beta == 0.0f) {
        if (!c16 || g.alpha != 1.0f)
          for (int j = 0; j < n; ++j) out[j] = g.alpha * ti[j];
      } else {
        if (c16) convert_to_f32(g.out, c_half + i * g.ldc, row, n);
        const float* old = c16 ? row : c32 + i * g.ldc;
        for (int j = 0; j < n; ++j) out[j] = g.alpha * ti[j] + g.beta * old[j];
      }
    }
    if (c16) {
      if (g.ldc == n && n == ldt)
        convert_from_f32(g.out, t, c_half, std::int64_t(m) * n);
      else
        for (int i = 0; i < m; ++i) convert_from_f32(g.out, t + std::int64_t(i) * ldt, c_half + i * g.ldc, n);
    }
  }
  return true;
}

std::int64_t gemm_cpu_small_calls() { return small_calls.load(std::memory_order_relaxed); }

ScopedPackedOnly::ScopedPackedOnly() { packed_only.fetch_add(1); }
ScopedPackedOnly::~ScopedPackedOnly() { packed_only.fetch_sub(1); }

}  // namespace halfway
