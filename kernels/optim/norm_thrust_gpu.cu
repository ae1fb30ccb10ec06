// The cuda baseline: Thrust's CUDA system on GPU memory (norm_thrust.hpp).
#include <thrust/system/cuda/execution_policy.h>

#include "common/error.hpp"
#include "kernels/optim/norm_thrust.hpp"
#include "kernels/optim/norm_thrust_body.hpp"

namespace halfway::optim {

float norm_thrust_gpu(const float* g, std::int64_t n) { return detail::norm_transform_reduce(thrust::cuda::par, g, n); }

}  // namespace halfway::optim
