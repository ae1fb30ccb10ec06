// The cpu baseline: Thrust's CPP system on host memory (unscale_thrust.hpp).
#include "kernels/amp/unscale_thrust.hpp"

#include <thrust/system/cpp/execution_policy.h>

#include "common/backend.hpp"
#include "kernels/amp/unscale_thrust_body.hpp"

namespace halfway::amp {

bool unscale_thrust_host(float* g, std::int64_t n, float inv_scale) {
  return detail::unscale_two_passes(thrust::cpp::par, g, n, inv_scale);
}

#if !defined(HALFWAY_HAVE_CUDA)
bool unscale_thrust_gpu(float*, std::int64_t, float) { no_cuda_build("unscale_thrust_gpu"); }
#endif

}  // namespace halfway::amp
