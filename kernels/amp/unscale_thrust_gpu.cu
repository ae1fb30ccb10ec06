// The cuda baseline: Thrust's CUDA system on GPU memory (unscale_thrust.hpp).
#include <thrust/system/cuda/execution_policy.h>

#include "common/error.hpp"
#include "kernels/amp/unscale_thrust.hpp"
#include "kernels/amp/unscale_thrust_body.hpp"

namespace halfway::amp {

bool unscale_thrust_gpu(float* g, std::int64_t n, float inv_scale) {
  return detail::unscale_two_passes(thrust::cuda::par, g, n, inv_scale);
}

}  // namespace halfway::amp
