/// @file unscale.hpp
/// @brief Unscale-and-check: the loss scaler's one pass over every gradient.
///
/// g[i] = g[i] * inv_scale (in fp32; 16-bit gradients are loaded exactly, multiplied in
/// fp32 and rounded back to their type), and found_inf = "some g[i] was inf or NaN before
/// the multiply" (PyTorch checks the value it reads, so do we). Gradients are unscaled
/// even when one of them is not finite: the step is skipped anyway.
///
/// On the cpu a host loop; on emu and cuda one kernel launch over the whole buffer
/// (kernels/amp/unscale.cu), then one 4-byte flag read by the host.
#pragma once

#include <cstdint>

#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"

namespace halfway::amp {
struct GradBuffer;

/// The whole pass on the buffer's backend. `device_flag` is 4 bytes of device memory
/// (the caller's workspace: nothing is allocated here); unused on the cpu.
bool unscale_and_check(const GradBuffer& grads, float inv_scale, unsigned* device_flag);
}  // namespace halfway::amp

/// The kernels behind it: *flag (device memory) becomes 1 when some g[i] is not finite
/// (it must be 0 before the launch); returns after the launch, without waiting.
HALFWAY_KERNEL_API(
  void unscale_and_check(float* g, std::int64_t n, float inv_scale, unsigned* flag);
  void unscale_and_check(::halfway::half* g, std::int64_t n, float inv_scale, unsigned* flag);
  void unscale_and_check(::halfway::bfloat16* g, std::int64_t n, float inv_scale, unsigned* flag);
)
