/// @file unscale_thrust.hpp
/// @brief The library way to unscale and check, the baseline chapter 04's fused kernel is
/// measured against: two Thrust passes over fp32 gradients, thrust::any_of (is some value
/// inf or NaN?) then thrust::transform (g *= inv_scale). Same results as
/// unscale_and_check, twice the memory traffic.
#pragma once

#include <cstdint>

namespace halfway::amp {

/// On host memory, Thrust's CPP system (the cpu baseline).
bool unscale_thrust_host(float* g, std::int64_t n, float inv_scale);
/// On GPU memory, Thrust's CUDA system (the cuda baseline; in a build with CUDA only,
/// HALFWAY_HAVE_CUDA).
bool unscale_thrust_gpu(float* g, std::int64_t n, float inv_scale);

}  // namespace halfway::amp
