// The cpu side of unscale-and-check (unscale.hpp): a host loop on the cpu backend, the
// kernel on emu and cuda.
#include <cmath>

#include "common/device_memory.hpp"
#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/amp/unscale.hpp"
#include "kernels/fp16/dtype_switch.hpp"
#include "kernels/fp16/bits.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::amp {
namespace {

// One pass. The flag is an OR of integer tests on the bits (no branch, no early exit), so
// the loop vectorises and the result is the same with any number of threads.
template <class G>
bool unscale_host(G* g, std::int64_t n, float inv_scale) {
  unsigned bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (worth_threads_elementwise(n))
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = layers::ld(g[i]);
    bad |= unsigned((float_to_bits(v) & 0x7f800000u) == 0x7f800000u);
    g[i] = layers::st<G>(v * inv_scale);
  }
  return bad != 0;
}

template <class G>
bool unscale_device(Backend b, G* g, std::int64_t n, float inv_scale, unsigned* flag) {
  HALFWAY_EXPECT(flag != nullptr, "a device flag for unscale-and-check", "a null pointer");
  // The same path on emu as on cuda: the flag is device memory, reset and read by copies.
  const unsigned zero = 0;
  unsigned found = 0;
  copy_in(b, flag, &zero, sizeof zero);
  HALFWAY_KERNEL(b, unscale_and_check(g, n, inv_scale, flag));
  copy_out(b, &found, flag, sizeof found);  // waits for the kernel
  return found != 0;
}

}  // namespace

bool unscale_and_check(const GradBuffer& grads, float inv_scale, unsigned* device_flag) {
  HALFWAY_EXPECT(grads.count >= 0, "a gradient count >= 0", std::to_string(grads.count));
  if (grads.count == 0) return false;
  HALFWAY_EXPECT(grads.data != nullptr, "a gradient buffer", "a null pointer");
  return with_typed(grads.dtype, grads.data, [&](auto* g) {
    if (grads.backend == Backend::cpu) return unscale_host(g, grads.count, inv_scale);
    return unscale_device(grads.backend, g, grads.count, inv_scale, device_flag);
  });
}

}  // namespace halfway::amp
