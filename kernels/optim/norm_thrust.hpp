/// @file norm_thrust.hpp
/// @brief The library way to take the global norm, the baseline chapter 06's two-pass
/// kernel is measured against: thrust::transform_reduce over fp32 gradients with the same
/// math (each square in double, summed in double, one sqrt, one rounding to float), in
/// whatever order Thrust picks (its result may differ from ours in the last bits of the
/// double sum, never in more than the bound grad_norm.hpp derives).
#pragma once

#include <cstdint>

namespace halfway::optim {

/// On host memory, Thrust's CPP system (the cpu baseline).
float norm_thrust_host(const float* g, std::int64_t n);
/// On GPU memory, Thrust's CUDA system (the cuda baseline; in a build with CUDA only).
float norm_thrust_gpu(const float* g, std::int64_t n);

}  // namespace halfway::optim
