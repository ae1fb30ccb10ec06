// The host side of numerics telemetry (numerics.hpp): a host loop on the cpu, the kernel
// on emu and cuda, both classifying with range_class().
#include "kernels/amp/numerics.hpp"

#include "common/device_memory.hpp"
#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/amp/range_class.hpp"
#include "kernels/fp16/dtype_switch.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::amp {
namespace {

template <class T>
RangeCounts count_host(const T* x, std::int64_t n, bool to_bf16, float scale) {
  std::int64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0;
#pragma omp parallel for schedule(static) reduction(+ : c0, c1, c2, c3, c4, c5) if (worth_threads_elementwise(n))
  for (std::int64_t i = 0; i < n; ++i) {
    switch (range_class(layers::ld(x[i]), to_bf16, scale)) {
      case 0: ++c0; break;
      case 1: ++c1; break;
      case 2: ++c2; break;
      case 3: ++c3; break;
      case 4: ++c4; break;
      default: ++c5; break;
    }
  }
  RangeCounts r;
  r.n = {c0, c1, c2, c3, c4, c5};
  return r;
}

template <class T>
RangeCounts count_typed(Backend b, const void* x, std::int64_t n, bool to_bf16, float scale,
                        unsigned long long* dev) {
  const T* p = static_cast<const T*>(x);
  if (b == Backend::cpu) return count_host(p, n, to_bf16, scale);
  HALFWAY_EXPECT(dev != nullptr, "a device workspace for the range counts", "a null pointer");
  unsigned long long host[RangeCounts::kClasses] = {};
  copy_in(b, dev, host, sizeof host);
  HALFWAY_KERNEL(b, count_ranges(p, n, to_bf16, scale, dev));
  copy_out(b, host, dev, sizeof host);  // on cuda: waits for the kernel
  RangeCounts r;
  for (int k = 0; k < RangeCounts::kClasses; ++k) r.n[std::size_t(k)] = std::int64_t(host[k]);
  return r;
}

}  // namespace

std::int64_t RangeCounts::total() const {
  std::int64_t t = 0;
  for (auto v : n) t += v;
  return t;
}

double RangeCounts::share(int k) const {
  const std::int64_t t = total();
  return t == 0 ? 0.0 : double(n[std::size_t(k)]) / double(t);
}

RangeCounts& RangeCounts::operator+=(const RangeCounts& o) {
  for (std::size_t k = 0; k < n.size(); ++k) n[k] += o.n[k];
  return *this;
}

const char* range_class_name(int k) {
  static const char* names[RangeCounts::kClasses] = {"exact_zero", "underflow", "subnormal",
                                                     "normal",     "overflow",  "nonfinite"};
  return k >= 0 && k < RangeCounts::kClasses ? names[k] : "?";
}

RangeCounts count_ranges(Backend b, DType in, const void* x, std::int64_t n, DType format, float scale,
                         unsigned long long* device_counts) {
  HALFWAY_EXPECT(format == DType::f16 || format == DType::bf16, "a 16-bit format (f16 or bf16) to count ranges in",
                 "f32");
  HALFWAY_EXPECT(n >= 0, "a count >= 0", std::to_string(n));
  if (n == 0) return {};
  HALFWAY_EXPECT(x != nullptr, "a tensor", "a null pointer");
  const bool to_bf16 = format == DType::bf16;
  return with_dtype(in, [&](auto type) {
    return count_typed<typename decltype(type)::type>(b, x, n, to_bf16, scale, device_counts);
  });
}

}  // namespace halfway::amp
