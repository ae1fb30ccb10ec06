// The packed GEMM's driver (gemm_cpu_packed.hpp): blocks, packing, threads, the epilogue.
// Everything here is plain C++; the paths' files hold the instructions.
#include "kernels/gemm/gemm_cpu_packed.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "common/error.hpp"
#include "common/host_simd.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/fp16/convert_array.hpp"
#include "kernels/gemm/gemm_cpu_small.hpp"

namespace halfway {

namespace {

// A grow-only, 64-byte aligned buffer per thread: nothing is allocated after the first steps.
struct Scratch {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<unsigned char, Free> data;
  std::size_t size = 0;
  void* get(std::size_t bytes) {
    if (bytes > size) {
      size = (bytes + 63) / 64 * 64;
      data.reset(static_cast<unsigned char*>(std::aligned_alloc(64, size)));
      HALFWAY_EXPECT(data != nullptr, "memory for the cpu GEMM's packed panels", std::to_string(size) + " bytes");
    }
    return data.get();
  }
};

// pack(i) for i < n_pack, then body(i) for i < n, on OpenMP threads when `parallel` (one
// region for both: the packed panel is shared, a barrier between), on the calling thread
// otherwise (no OpenMP region: entering one costs about a microsecond, and the attention's
// products are a few hundred flops). Dynamic: a thread that waits for a core leaves its
// slivers to those that run. Each sliver's sums are one thread's whatever the count, so
// the bits do not depend on it.
template <class Pack, class Body>
void pack_then_run(int n_pack, Pack pack, int n, bool parallel, Body body) {
  if (!parallel) {
    for (int i = 0; i < n_pack; ++i) pack(i);
    for (int i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int i = 0; i < n_pack; ++i) pack(i);
#pragma omp for schedule(dynamic)
    for (int i = 0; i < n; ++i) body(i);
  }
}

// dst[j] += src[j] for j < n: the epilogue's adds (a bias onto C's rows, a tile onto C when
// alpha = beta = 1). Plain C++, compiled a second time for AVX-512 where the CPU has it (16
// lanes instead of SSE2's 4); one fp32 add an element either way, so the same bits.
[[gnu::always_inline]] inline void add_row_plain(float* dst, const float* src, int n) {
  for (int j = 0; j < n; ++j) dst[j] += src[j];
}
#if HALFWAY_HOST_SIMD
__attribute__((target("avx512f"))) void add_row_avx512(float* dst, const float* src, int n) {
  add_row_plain(dst, src, n);
}
#endif
void add_row(float* dst, const float* src, int n) {
#if HALFWAY_HOST_SIMD
  if (simd::has(simd::Isa::avx512)) return add_row_avx512(dst, src, n);
#endif
  add_row_plain(dst, src, n);
}

// A row of C = alpha * tile row + beta * C row (C not read when beta == 0).
// alpha = beta = 1 (a gradient accumulated into C) is tile + C: multiplying by 1 is exact.
void store_row(const float* t, int cols, float* ci, float alpha, float beta) {
  if (beta == 0.0f) {
    if (alpha == 1.0f)
      std::copy(t, t + cols, ci);
    else
      for (int j = 0; j < cols; ++j) ci[j] = alpha * t[j];
  } else if (alpha == 1.0f && beta == 1.0f) {
    add_row(ci, t, cols);
  } else {
    for (int j = 0; j < cols; ++j) ci[j] = alpha * t[j] + beta * ci[j];
  }
}

// The epilogue of a block the path's fused micro-kernel does not take (C's edges, other
// alpha and beta, paths without one): the sums in tile t (leading dimension nr), then
// alpha and beta, the bias and the rounding as separate fp32 passes, row by row while the
// row is in L1. A 16-bit C row goes through `stage` (fp32, read first when beta != 0). Each
// step is one fp32 operation per element in the fused kernels' order: the same bits.
void epilogue_block(const float* t, int nr, int rows, int cols, const GemmArgs& g, void* c, const float* bias,
                    float* stage) {
  for (int r = 0; r < rows; ++r) {
    const float* tr = t + std::int64_t(r) * nr;
    if (g.out == DType::f32) {
      float* cr = static_cast<float*>(c) + r * g.ldc;
      store_row(tr, cols, cr, g.alpha, g.beta);
      if (bias) add_row(cr, bias, cols);
    } else {
      std::uint16_t* cr = static_cast<std::uint16_t*>(c) + r * g.ldc;
      if (g.beta != 0.0f) convert_to_f32(g.out, cr, stage, cols);
      store_row(tr, cols, stage, g.alpha, g.beta);
      if (bias) add_row(stage, bias, cols);
      convert_from_f32(g.out, stage, cr, cols);
    }
  }
}

constexpr std::size_t kPanelBytes = std::size_t(1) << 20;  // a packed B panel stays in L2
// B is packed kPackGroup slivers at a time, kPackRows rows of K at a time (a multiple of
// every path's k_step: a block boundary is never inside a pair or an AMX row of 32).
constexpr int kPackGroup = 8, kPackRows = 64;

}  // namespace

const GemmCpuPath& gemm_cpu_path(CpuIsa isa, DType in) {
#if HALFWAY_HOST_SIMD
  switch (isa) {
    case CpuIsa::generic: break;
    case CpuIsa::avx2: return gemm_cpu_paths::avx2;
    case CpuIsa::avx512: return gemm_cpu_paths::avx512;
    case CpuIsa::avx512bf16: return in == DType::bf16 ? gemm_cpu_paths::avx512bf16 : gemm_cpu_paths::avx512;
    case CpuIsa::amx: return in == DType::bf16 ? gemm_cpu_paths::amx : gemm_cpu_paths::avx512;
  }
#else
  (void)isa;
  (void)in;
#endif
  return gemm_cpu_paths::generic;
}

void gemm_cpu_packed(const GemmArgs& g, const GemmCpuPath& path) {
  if (gemm_cpu_small(g, path)) return;  // tiny products (the attention's): no packing (gemm_cpu_small.hpp)
  const int mr = path.mr, nr = path.nr;
  const int kp = (g.k + path.k_step - 1) / path.k_step * path.k_step;
  const std::size_t a_sliver = std::size_t(kp) * mr * path.elem_bytes, b_sliver = std::size_t(kp) * nr * path.elem_bytes;
  // op(A)(i, p) = a[i * a_rs + p * a_ps]; op(B)(p, j) = b[j * b_rs + p * b_ps].
  const std::int64_t a_rs = g.op_a == Op::N ? g.lda : 1, a_ps = g.op_a == Op::N ? 1 : g.lda;
  const std::int64_t b_rs = g.op_b == Op::N ? 1 : g.ldb, b_ps = g.op_b == Op::N ? g.ldb : 1;
  // A panel of B: as many NR-column slivers as fit kPanelBytes (at least one).
  const int nc = int(std::min<std::int64_t>((g.n + nr - 1) / nr, std::max<std::size_t>(1, kPanelBytes / b_sliver))) * nr;
  const int m_slivers = (g.m + mr - 1) / mr;
  const bool direct = g.alpha == 1.0f && g.beta == 0.0f;
  const bool parallel = worth_gemm_threads(double(g.m) * g.n * g.k);
  const bool c16 = g.out != DType::f32;
  // A whole block takes the path's fused micro-kernel where it has one: the sums, + C
  // (fp32 C, beta = 1), + the bias, rounded to 16-bit C, from registers (MicroEpilogue).
  const bool fused = path.micro_fused && g.alpha == 1.0f && (g.beta == 0.0f || (g.beta == 1.0f && !c16));
  thread_local Scratch b_pack;
  // The bias (GemmArgs::bias) joins C's rows in the epilogue, after the sums and before the
  // rounding: one fp32 add, one rounding, the bits of a separate pass. The panel's columns
  // of it are widened once, on this thread, and only read by the slivers. A 16-bit C is
  // rounded once from the fp32 value: no fp32 copy of C, no conversion pass over it.
  const auto* a16 = static_cast<const std::uint16_t*>(g.a);
  const auto* b16 = static_cast<const std::uint16_t*>(g.b);
  const auto* bias16 = static_cast<const std::uint16_t*>(g.bias);
  thread_local Scratch bias_pack;
  float* const bias = bias16 ? static_cast<float*>(bias_pack.get(sizeof(float) * std::size_t(nc))) : nullptr;
  for (int z = 0; z < g.batch; ++z) {
    const std::uint16_t* a = a16 + z * g.stride_a;
    const std::uint16_t* b = b16 + z * g.stride_b;
    // C of batch entry z, as fp32 or 16-bit words; element (i, j) at i * ldc + j.
    const std::size_t c_bytes = c16 ? 2 : 4;
    auto* const c = static_cast<unsigned char*>(g.c) + std::size_t(z * g.stride_c) * c_bytes;
    for (int j0 = 0; j0 < g.n; j0 += nc) {
      const int cols = std::min(nc, g.n - j0), n_slivers = (cols + nr - 1) / nr;
      auto* bp = static_cast<unsigned char*>(b_pack.get(b_sliver * std::size_t(n_slivers)));
      if (bias && (z == 0 || nc < g.n)) convert_to_f32(g.in, bias16 + j0, bias, cols);
      // One B for the whole batch (stride 0) in one panel: packed once. Its slivers are
      // packed by all the threads (the weights' panels: up to a fifth of a product of the
      // seed model's, which a thread of its own left the others waiting for), in groups:
      // a group's slivers are packed kPackRows rows of K at a time, side by side, so that
      // each row of B is read along its length while its lines and page are at hand (one
      // sliver after another read a whole column strip of B, a page per row: TLB misses
      // and no prefetch, a third of the packing time on AVX2). Every path's layout is
      // p-major, so the block at row p0 starts p0 * NR elements into its sliver.
      const bool pack = z == 0 || g.stride_b != 0 || nc < g.n;
      const int groups = (n_slivers + kPackGroup - 1) / kPackGroup;
      const auto pack_group = [&](int group) {
        const int s0 = group * kPackGroup, s1 = std::min(n_slivers, s0 + kPackGroup);
        for (int p0 = 0; p0 < g.k; p0 += kPackRows) {
          const int p1 = std::min(g.k, p0 + kPackRows), kq = p1 == g.k ? kp - p0 : p1 - p0;
          for (int s = s0; s < s1; ++s)
            path.pack_b(g.in, b + std::int64_t(j0 + s * nr) * b_rs + std::int64_t(p0) * b_ps, b_rs, b_ps,
                        std::min(nr, cols - s * nr), p1 - p0, kq,
                        bp + s * b_sliver + std::size_t(p0) * nr * path.elem_bytes);
        }
      };
      pack_then_run(pack ? groups : 0, pack_group, m_slivers, parallel, [&](int s) {
        thread_local Scratch a_pack, tile, c_stage;
        auto* ap = a_pack.get(a_sliver);
        auto* t = static_cast<float*>(tile.get(sizeof(float) * std::size_t(mr) * nr));
        auto* stage = c16 ? static_cast<float*>(c_stage.get(sizeof(float) * std::size_t(nr))) : nullptr;
        const int i0 = s * mr, rows = std::min(mr, g.m - i0);
        path.pack_a(g.in, a + std::int64_t(i0) * a_rs, a_rs, a_ps, rows, g.k, kp, ap);
        for (int q = 0; q < n_slivers; ++q) {
          const int width = std::min(nr, cols - q * nr);
          void* const cq = c + std::size_t(std::int64_t(i0) * g.ldc + j0 + q * nr) * c_bytes;
          const unsigned char* const bq = bp + q * b_sliver;
          const float* const bias_q = bias ? bias + q * nr : nullptr;
          const bool whole = rows == mr && width == nr;
          if (fused && whole) {
            path.micro_fused(kp, ap, bq, cq, g.ldc, MicroEpilogue{g.beta != 0.0f, bias_q, g.out});
          } else if (direct && whole && !c16) {  // C = A B (+ bias): the sums straight into C
            path.micro(kp, ap, bq, static_cast<float*>(cq), g.ldc);
            if (bias_q)
              for (int r = 0; r < rows; ++r) add_row(static_cast<float*>(cq) + r * g.ldc, bias_q, width);
          } else {
            path.micro(kp, ap, bq, t, nr);
            epilogue_block(t, nr, rows, width, g, cq, bias_q, stage);
          }
        }
      });
    }
  }
}

}  // namespace halfway
