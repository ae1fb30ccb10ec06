// The fused check+norm pass's host side (check_norm.hpp): the dispatch, and the cpu
// backend, which runs the kernels' order on the host (norm_order_host.hpp).
#include "kernels/optim/check_norm.hpp"

#include <cmath>

#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "kernels/fp16/dtype_switch.hpp"
#include "kernels/layers/scalar.hpp"
#include "kernels/optim/norm_order_host.hpp"

namespace halfway::optim {
namespace {

bool nonfinite(float v) { return (float_to_bits(v) & 0x7f800000u) == 0x7f800000u; }

template <class G>
void check_norm_host(const G* g, std::int64_t n, amp::ScalerWords& scaler, const StepRule& rule, StepWords& out) {
  const float inv = scaler.inv_scale;
  const double sum = detail::sum_of_squares_host(g, n, [inv](G v) { return double(layers::ld(v) * inv); });
  // A finite sum proves every gradient finite (check_norm.hpp); else look for the culprit.
  if (!std::isfinite(sum)) {
    unsigned bad = 0;
    for (std::int64_t i = 0; i < n && !bad; ++i) bad = nonfinite(layers::ld(g[i]));
    scaler.found_inf |= bad;
  }
  out = finish_step(sum, scaler.found_inf, rule);
}

template <class G>
void check_norm_device(Backend b, const G* g, std::int64_t n, amp::ScalerWords* scaler, const StepRule& rule,
                       CheckNormWorkspace& ws, StepWords* words) {
  double* partials = ws.partials.get(kNormMaxBlocks, b);
  HALFWAY_KERNEL(b, check_norm_partials(g, n, &scaler->inv_scale, &scaler->found_inf, partials));
  HALFWAY_KERNEL(b, check_norm_finish(partials, norm_blocks(n), &scaler->found_inf, rule, words));
}

template <class G>
void check_norm_typed(const GradBuffer& grads, amp::ScalerWords* scaler, const StepRule& rule, CheckNormWorkspace& ws,
                      StepWords* words) {
  const G* g = static_cast<const G*>(grads.data);
  if (grads.backend == Backend::cpu) return check_norm_host(g, grads.count, *scaler, rule, *words);
  check_norm_device(grads.backend, g, grads.count, scaler, rule, ws, words);
}

}  // namespace

StepWords* check_and_norm(const GradBuffer& grads, amp::ScalerWords* scaler, const StepRule& rule,
                          CheckNormWorkspace& ws) {
  HALFWAY_EXPECT(grads.count >= 0, "a gradient count >= 0", std::to_string(grads.count));
  HALFWAY_EXPECT(grads.count == 0 || grads.data != nullptr, "a gradient buffer", "a null pointer");
  HALFWAY_EXPECT(scaler != nullptr, "the scaler's device words", "a null pointer");
  HALFWAY_EXPECT(std::isfinite(rule.max_norm) && rule.max_norm > 0.0f, "a clipping max_norm > 0 and finite",
                 std::to_string(rule.max_norm));
  StepWords* words = ws.words.get(1, grads.backend);
  with_dtype(grads.dtype, [&](auto type) { check_norm_typed<typename decltype(type)::type>(grads, scaler, rule, ws, words); });
  return words;
}

}  // namespace halfway::optim
