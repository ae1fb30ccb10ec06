// Clipping's host side (clip.hpp): checks, the dispatch, and the cpu loops (the same
// per-element functions as the kernels, clip_element.hpp).
#include "kernels/optim/clip.hpp"

#include <cmath>
#include <string>

#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "common/parallel_ranges.hpp"
#include "kernels/fp16/dtype_switch.hpp"
#include "kernels/optim/clip_element.hpp"

namespace halfway::optim {
namespace {

void check_grads(const GradBuffer& grads) {
  HALFWAY_EXPECT(grads.count >= 0, "a gradient count >= 0", std::to_string(grads.count));
  HALFWAY_EXPECT(grads.count == 0 || grads.data != nullptr, "a gradient buffer", "a null pointer");
}

std::string show(float v) {
  return std::isnan(v) ? "nan" : std::isinf(v) ? (v > 0 ? "inf" : "-inf") : std::to_string(v);
}

void check_nonfinite(float norm, const ClipOptions& o) {
  if (o.error_if_nonfinite && !std::isfinite(norm))
    throw Error("clip_grad_norm: the total gradient norm is " + show(norm) +
                ", so the gradients cannot be clipped (error_if_nonfinite is set; they are left as they were)");
}

template <class G>
void scale_range(G* g, std::int64_t begin, std::int64_t end, float coef) {
  for (std::int64_t i = begin; i < end; ++i) g[i] = scaled(g[i], coef);
}
template <class G>
void clamp_range(G* g, std::int64_t begin, std::int64_t end, float v) {
  for (std::int64_t i = begin; i < end; ++i) g[i] = clamped(g[i], v);
}
template <class G>
void scale_host(G* g, std::int64_t n, float coef) {
  for_ranges(n, worth_threads_elementwise(n), [g, coef](std::int64_t b, std::int64_t e) { scale_range(g, b, e, coef); });
}
template <class G>
void clamp_host(G* g, std::int64_t n, float v) {
  for_ranges(n, worth_threads_elementwise(n), [g, v](std::int64_t b, std::int64_t e) { clamp_range(g, b, e, v); });
}

// f(typed pointer) for the buffer's element type.
template <class F>
void typed(const GradBuffer& grads, F&& f) {
  with_typed(grads.dtype, grads.data, f);
}

}  // namespace

float clip_grad_norm(const GradBuffer& grads, const ClipOptions& o, NormWorkspace& ws) {
  HALFWAY_EXPECT(std::isfinite(o.max_norm) && o.max_norm > 0.0f, "a clipping max_norm > 0 and finite",
                 show(o.max_norm));
  check_grads(grads);
  const std::int64_t n = grads.count;
  if (n == 0) return 0.0f;  // PyTorch: no gradients, norm 0
  const Backend b = grads.backend;
  if (b == Backend::cpu) {
    const float norm = detail::global_norm_host(grads);
    check_nonfinite(norm, o);
    const float coef = clip_coefficient(norm, o.max_norm);
    typed(grads, [&](auto* g) { scale_host(g, n, coef); });
    return norm;
  }
  detail::launch_global_norm(grads, ws);
  float norm = 0.0f;
  if (o.error_if_nonfinite) {  // the host must see the norm before the gradients change
    copy_out(b, &norm, ws.norm.data(), sizeof norm);
    check_nonfinite(norm, o);
  }
  const float* d_norm = ws.norm.data();
  typed(grads, [&](auto* g) { HALFWAY_KERNEL(b, clip_scale(g, n, d_norm, o.max_norm)); });
  if (!o.error_if_nonfinite) copy_out(b, &norm, ws.norm.data(), sizeof norm);  // waits for the launches
  return norm;
}

void clip_grad_value(const GradBuffer& grads, float clip_value) {
  HALFWAY_EXPECT(std::isfinite(clip_value) && clip_value > 0.0f, "a clip value > 0 and finite", show(clip_value));
  check_grads(grads);
  const std::int64_t n = grads.count;
  if (n == 0) return;
  const Backend b = grads.backend;
  if (b == Backend::cpu) return typed(grads, [&](auto* g) { clamp_host(g, n, clip_value); });
  typed(grads, [&](auto* g) { HALFWAY_KERNEL(b, clip_clamp(g, n, clip_value)); });
}

}  // namespace halfway::optim
