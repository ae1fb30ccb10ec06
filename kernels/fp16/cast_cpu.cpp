// The cpu backend of the casts (OpenMP over chunks), and the choice of backend.
#include <exception>
#include <mutex>
#include <string>

#include "common/device_memory.hpp"
#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "common/parallel_errors.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/fp16/cast.hpp"

namespace halfway::cpu {
namespace {

constexpr std::size_t kChunk = 1 << 14;

// Runs body(begin, end) over [0, n) in chunks, on OpenMP threads when worth_threads_elementwise(n). An
// exception (a stub exercise throws one) must not leave an OpenMP region, so the first one
// is carried out.
template <class Body>
void parallel_chunks(std::size_t n, Body body) {
  const std::ptrdiff_t chunks = static_cast<std::ptrdiff_t>((n + kChunk - 1) / kChunk);
  ParallelErrors errors;
#pragma omp parallel for schedule(static) if (chunks > 1 && worth_threads_elementwise(std::int64_t(n)))
  for (std::ptrdiff_t c = 0; c < chunks; ++c) {
    const std::size_t begin = static_cast<std::size_t>(c) * kChunk;
    const std::size_t end = begin + kChunk < n ? begin + kChunk : n;
    if (!errors.failed()) errors.run([&] { body(begin, end); });
  }
  errors.rethrow();
}

template <class Convert, class Outcome>
void narrow(const float* in, std::uint16_t* out, std::size_t n, CastCounts* counts,
            Convert convert, Outcome outcome) {
  std::uint64_t overflow = 0, flushed = 0, subnormal = 0;
  std::mutex sum_mutex;
  parallel_chunks(n, [&](std::size_t begin, std::size_t end) {
    std::uint64_t o = 0, f = 0, s = 0;
    for (std::size_t i = begin; i < end; ++i) {
      out[i] = convert(in[i]);
      const unsigned what = outcome(in[i], out[i]);
      o += what & 1u;
      f += (what >> 1) & 1u;
      s += (what >> 2) & 1u;
    }
    std::lock_guard<std::mutex> lock(sum_mutex);
    overflow += o;
    flushed += f;
    subnormal += s;
  });
  if (counts) *counts = CastCounts{overflow, flushed, subnormal};
}

}  // namespace

void cast_f32_to_f16(const float* in, half* out, std::size_t n, CastCounts* counts) {
  narrow(in, reinterpret_cast<std::uint16_t*>(out), n, counts,
         [](float f) { return float_to_half_bits(f); }, cast_outcome_f16);
}

void cast_f32_to_bf16(const float* in, bfloat16* out, std::size_t n, CastCounts* counts) {
  narrow(in, reinterpret_cast<std::uint16_t*>(out), n, counts,
         [](float f) { return float_to_bf16_bits(f); }, cast_outcome_bf16);
}

void cast_f16_to_f32(const half* in, float* out, std::size_t n) {
  parallel_chunks(n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = half_bits_to_float(in[i].bits);
  });
}

void cast_bf16_to_f32(const bfloat16* in, float* out, std::size_t n) {
  parallel_chunks(n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = bf16_bits_to_float(in[i].bits);
  });
}

}  // namespace halfway::cpu

namespace halfway {

namespace {
// A narrowing cast on emu or cuda: the kernel counts into the caller's zeroed counters
// when counts are asked for, and one copy brings them back (on cuda it waits for the kernel).
template <class Launch>
void narrow_on_device(Backend backend, std::size_t n, CastCounts* counts, unsigned long long* device_counts,
                      Launch launch) {
  if (!counts) return launch(nullptr);
  HALFWAY_EXPECT(device_counts != nullptr,
                 "a workspace of " + std::to_string(kCastCounters) + " counters for a counted cast on " +
                     std::string(to_string(backend)),
                 "a null pointer");
  *counts = CastCounts{};
  if (n == 0) return;
  unsigned long long host[kCastCounters] = {};
  copy_in(backend, device_counts, host, sizeof host);
  launch(device_counts);
  copy_out(backend, host, device_counts, sizeof host);
  *counts = CastCounts{host[0], host[1], host[2]};
}
}  // namespace

// cpu: the host code above; emu and cuda: the kernels (common/dispatch.hpp).
void cast_f32_to_f16(Backend backend, const float* in, half* out, std::size_t n,
                     CastCounts* counts, unsigned long long* device_counts) {
  if (backend == Backend::cpu) return cpu::cast_f32_to_f16(in, out, n, counts);
  narrow_on_device(backend, n, counts, device_counts, [&](unsigned long long* dev) {
    HALFWAY_KERNEL(backend, cast_f32_to_f16(in, out, n, dev));
  });
}
void cast_f32_to_bf16(Backend backend, const float* in, bfloat16* out, std::size_t n,
                      CastCounts* counts, unsigned long long* device_counts) {
  if (backend == Backend::cpu) return cpu::cast_f32_to_bf16(in, out, n, counts);
  narrow_on_device(backend, n, counts, device_counts, [&](unsigned long long* dev) {
    HALFWAY_KERNEL(backend, cast_f32_to_bf16(in, out, n, dev));
  });
}
void cast_f16_to_f32(Backend backend, const half* in, float* out, std::size_t n) {
  if (backend == Backend::cpu) return cpu::cast_f16_to_f32(in, out, n);
  HALFWAY_KERNEL(backend, cast_f16_to_f32(in, out, n));
}
void cast_bf16_to_f32(Backend backend, const bfloat16* in, float* out, std::size_t n) {
  if (backend == Backend::cpu) return cpu::cast_bf16_to_f32(in, out, n);
  HALFWAY_KERNEL(backend, cast_bf16_to_f32(in, out, n));
}

}  // namespace halfway
