// The Thrust pass of norm_thrust.hpp, for whichever system `policy` names (included by
// norm_thrust_host.cpp and norm_thrust_gpu.cu).
#pragma once

#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/transform_reduce.h>

#include <cmath>
#include <cstdint>

namespace halfway::optim::detail {

struct SquareInDouble {
  __host__ __device__ double operator()(float v) const { return double(v) * double(v); }
};

template <class Policy>
float norm_transform_reduce(const Policy& policy, const float* g, std::int64_t n) {
  const double sum = thrust::transform_reduce(policy, g, g + n, SquareInDouble{}, 0.0, thrust::plus<double>());
  return float(std::sqrt(sum));
}

}  // namespace halfway::optim::detail
