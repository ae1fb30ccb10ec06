/// @file parallel_ranges.hpp
/// @brief The host's parallel loops: worth_threads, the rule for when a loop runs on OpenMP
/// threads (worth_threads_elementwise: the rule for loops whose bits do not depend on the
/// cut), and for_ranges, a loop over [0, n) cut into chunks.
///
/// worth_threads: only from 2^23 elements (8M, 32 MB of floats). At the trainer's shapes
/// (a few MB per op) the loops are memory-bound and short, and OpenMP's worker threads,
/// which spin for a while after each parallel region, steal the cores from OpenBLAS's own
/// threads in the next GEMM: measured 3x slower layers on 2 cores, and a bulk conversion
/// after an sgemm at 0.27 ms on one thread against 16 ms on two. A loop whose element costs
/// several memory-bound ones (dropout's Philox rounds) passes its work weighted by that cost.
///
/// A loop that should vectorise belongs in a function of its own that takes its scalars by
/// value, called as body(begin, end): in an OpenMP-outlined loop body the scalars are read
/// through a pointer that stores to the arrays might alias, and the loop stays scalar
/// (Adam's host loop and ReLU's ran at a fifth and a tenth of an fp32 step that way).
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace halfway {

/// Whether a host loop over `work` (memory-bound) elements should run on OpenMP threads.
inline bool worth_threads(std::int64_t work) {
  return work >= (std::int64_t(1) << 23) && omp_get_max_threads() > 1;
}

/// Which threads ran this process's last cpu GEMM (kernels/gemm/gemm_cpu.cpp notes each):
/// OpenBLAS's own (fp32 inputs) or OpenMP's team (the course's packed GEMM, 16-bit inputs).
enum class GemmTeam { openblas, openmp };
inline std::atomic<GemmTeam> last_gemm_team{GemmTeam::openblas};

/// worth_threads for a loop whose bits do not depend on how it is cut: each element on its
/// own, fixed blocks, or an exact reduction (integer counts, OR); never a floating-point
/// reduction whose order follows the threads. After a GEMM on OpenMP's team (a 16-bit
/// step) its workers are awake and no OpenBLAS thread waits for a core, so from 2^18
/// elements (256K): on 2 cores that put Adam's update, the gradient norm, dropout and ReLU
/// on both and took an fp16 step of the seed model from 19.4 to 16.0 ms (2^16: 17.3, the
/// regions then cost more than they save; 2^20: 16.6). After an sgemm, worth_threads' 2^23.
inline bool worth_threads_elementwise(std::int64_t work) {
  if (last_gemm_team.load(std::memory_order_relaxed) == GemmTeam::openblas) return worth_threads(work);
  return work >= (std::int64_t(1) << 18) && omp_get_max_threads() > 1;
}

/// Whether a GEMM of `macs` multiply-adds (m * n * k) should run on OpenMP threads: from
/// 2^20 (1M, about 20 microseconds on one AVX-512 core, twice that on AVX2). A region costs
/// a few microseconds when the workers are awake from the step's last one; on a loaded
/// machine each region also waits at its end for a core for each worker, which is why the
/// default thread count follows the load (common/host_threads.hpp). At halfway-train's seed
/// shapes the feed-forward and the attention's projections pass, not the attention's tiny
/// batched products. Measured at 2 threads, fp16 seed step: 2^24 (feed-forward only) 24.4
/// ms with the avx2 path and host (fp32 23.9), 2^20 22.6, 2^18 22.4; on avx512 15.7, 15.4, 15.3.
inline bool worth_gemm_threads(double macs) { return macs >= double(1 << 20) && omp_get_max_threads() > 1; }

/// body(begin, end) over [0, n): on the calling thread, or in chunks of 64K elements on
/// OpenMP threads when `threads` (usually worth_threads_elementwise(n)).
template <class Body>
void for_ranges(std::int64_t n, bool threads, Body body) {
  if (!threads) return body(std::int64_t(0), n);
  constexpr std::int64_t chunk = 1 << 16;
  const std::int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < chunks; ++k) body(k * chunk, std::min(n, (k + 1) * chunk));
}

}  // namespace halfway
