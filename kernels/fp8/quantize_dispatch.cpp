// The backend choice of the fp8 casts (quantize.hpp): the cpu runs scaling.hpp's host casts.
#include <vector>

#include "common/dispatch.hpp"
#include "kernels/fp8/quantize.hpp"
#include "kernels/fp8/scaling.hpp"

namespace halfway::fp8 {

void quantize(Backend backend, const float* x, std::int64_t n, float scale, Fp8Format format, std::uint8_t* out) {
  if (backend != Backend::cpu) return HALFWAY_KERNEL(backend, quantize_fp8(x, n, scale, format, out));
  (void)quantize(x, n, scale, format, out);
}

void dequantize(Backend backend, const std::uint8_t* q, std::int64_t n, float inv_scale, Fp8Format format, float* out) {
  if (backend != Backend::cpu) return HALFWAY_KERNEL(backend, dequantize_fp8(q, n, inv_scale, format, out));
  dequantize(q, n, inv_scale, format, out);
}

}  // namespace halfway::fp8
