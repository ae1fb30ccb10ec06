// The backend choice of the fp8 GEMM (gemm.hpp): the cpu runs the reference.
#include "common/dispatch.hpp"
#include "kernels/fp8/gemm.hpp"

namespace halfway::fp8 {

void fp8_gemm(Backend backend, const Fp8GemmShape& shape, const std::uint8_t* a, float a_inv_scale,
              const std::uint8_t* b, float b_inv_scale, float* c) {
  if (backend == Backend::cpu) return fp8_gemm_reference(shape, a, a_inv_scale, b, b_inv_scale, c);
  const float inv_scale = a_inv_scale * b_inv_scale;  // the reference's step 3: one float product first
  HALFWAY_KERNEL(backend, fp8_gemm_kernel(shape, a, b, inv_scale, c));
}

}  // namespace halfway::fp8
