// The cpu baseline: Thrust's CPP system on host memory (norm_thrust.hpp).
#include "kernels/optim/norm_thrust.hpp"

#include <thrust/system/cpp/execution_policy.h>

#include "common/backend.hpp"
#include "kernels/optim/norm_thrust_body.hpp"

namespace halfway::optim {

float norm_thrust_host(const float* g, std::int64_t n) { return detail::norm_transform_reduce(thrust::cpp::par, g, n); }

#if !defined(HALFWAY_HAVE_CUDA)
float norm_thrust_gpu(const float*, std::int64_t) { no_cuda_build("norm_thrust_gpu"); }
#endif

}  // namespace halfway::optim
