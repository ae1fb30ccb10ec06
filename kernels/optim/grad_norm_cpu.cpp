// The global norm's host side (grad_norm.hpp): the dispatch, and the cpu backend, which
// runs the kernels' exact order on the host so that cpu, emu and cuda give the same bits.
#include <cmath>

#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/fp16/dtype_switch.hpp"
#include "kernels/optim/grad_norm.hpp"
#include "kernels/optim/norm_order_host.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::optim {
namespace {

template <class G>
float norm_host(const G* g, std::int64_t n) {
  return float(std::sqrt(detail::sum_of_squares_host(g, n, [](G v) { return double(layers::ld(v)); })));
}

}  // namespace

namespace detail {

float global_norm_host(const GradBuffer& grads) {
  return with_typed(grads.dtype, static_cast<const void*>(grads.data),
                    [&](const auto* g) { return norm_host(g, grads.count); });
}

void launch_global_norm(const GradBuffer& grads, NormWorkspace& ws) {
  const Backend b = grads.backend;
  const std::int64_t n = grads.count;
  double* partials = ws.partials.get(kNormMaxBlocks, b);
  float* norm = ws.norm.get(1, b);
  with_typed(grads.dtype, static_cast<const void*>(grads.data),
             [&](const auto* g) { HALFWAY_KERNEL(b, grad_norm_partials(g, n, partials)); });
  HALFWAY_KERNEL(b, grad_norm_combine(partials, norm_blocks(n), norm));
}

}  // namespace detail

float global_norm(const GradBuffer& grads, NormWorkspace& ws) {
  HALFWAY_EXPECT(grads.count >= 0, "a gradient count >= 0", std::to_string(grads.count));
  if (grads.count == 0) return 0.0f;
  HALFWAY_EXPECT(grads.data != nullptr, "a gradient buffer", "a null pointer");
  if (grads.backend == Backend::cpu) return detail::global_norm_host(grads);
  detail::launch_global_norm(grads, ws);
  float norm = 0.0f;
  copy_out(grads.backend, &norm, ws.norm.data(), sizeof norm);  // waits for both launches
  return norm;
}

}  // namespace halfway::optim
