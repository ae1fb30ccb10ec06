// The two Thrust passes of unscale_thrust.hpp, for whichever system `policy` names
// (included by unscale_thrust_host.cpp and unscale_thrust_gpu.cu).
#pragma once

#include <thrust/execution_policy.h>
#include <thrust/logical.h>
#include <thrust/transform.h>

#include <cstdint>

namespace halfway::amp::detail {

struct NotFinite {
  __host__ __device__ bool operator()(float v) const {
    unsigned bits;
    __builtin_memcpy(&bits, &v, sizeof bits);
    return (bits & 0x7f800000u) == 0x7f800000u;
  }
};
struct TimesScalar {
  float s;
  __host__ __device__ float operator()(float v) const { return v * s; }
};

template <class Policy>
bool unscale_two_passes(const Policy& policy, float* g, std::int64_t n, float inv_scale) {
  const bool found = thrust::any_of(policy, g, g + n, NotFinite{});
  thrust::transform(policy, g, g + n, g, TimesScalar{inv_scale});
  return found;
}

}  // namespace halfway::amp::detail
