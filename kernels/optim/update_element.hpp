/// @file update_element.hpp
/// @brief One element of the fused optimizer step (optimizer.hpp): shared by the cpu loop
/// (optimizer.cpp) and the kernel (optimizer.cu), so both compute the same bits.
#pragma once

#include <cstdint>
#include <type_traits>

#include "05_master_weights/adam_element.hpp"
#include "05_master_weights/stochastic_round.hpp"
#include "common/hd.hpp"
#include "common/rng.hpp"
#include "kernels/optim/grad_fold.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::optim {

/// The new weight from the old one: Adam (exercise 05.1, moments updated in place) or
/// plain SGD, w - lr g (c.step_size is lr; the moments are not touched).
HALFWAY_HD_INLINE float updated(bool sgd, float w, float g, float* m, float* v, std::int64_t i,
                                const AdamConstants& c) {
  if (sgd) return w - c.step_size * g;
  float mi = m[i], vi = v[i];
  const float out = adam_element(w, g, mi, vi, c);
  m[i] = mi;
  v[i] = vi;
  return out;
}

/// Element i: the gradient read in fp32 and multiplied by 1/scale, then by the clip
/// coefficient (grad_fold.hpp; both 1 when nothing is folded: x * 1 is x, bit for bit), the
/// weight from the master (mode 0) or from the working copy (modes 1, 2), the update in
/// fp32, then the master and/or the working copy written.
template <class S, class G>
HALFWAY_HD_INLINE void update_element(std::int64_t i, bool sgd, float* master, S* working, const G* grad, float* m,
                                      float* v, const AdamConstants& c, int mode, std::uint64_t sr_seed,
                                      GradFactors f) {
  const float g = layers::ld(grad[i]) * f.inv_scale * f.clip_coef;
  if constexpr (std::is_same_v<S, float>) {
    master[i] = updated(sgd, master[i], g, m, v, i, c);  // fp32: the working copy is the master
  } else if (mode == 0) {
    const float w = updated(sgd, master[i], g, m, v, i, c);
    master[i] = w;
    working[i] = layers::st<S>(w);
  } else {
    const float w = updated(sgd, layers::ld(working[i]), g, m, v, i, c);
    working[i] = mode == 1 ? layers::st<S>(w) : stochastic_round<S>(w, rng::bits(sr_seed, std::uint64_t(i)));
  }
}

}  // namespace halfway::optim
