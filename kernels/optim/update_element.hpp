/// @file adam_apply.hpp
/// @brief One element of the fused step (adam.hpp): shared by the cpu loop (adam.cpp)
/// and the kernel (adam.cu), so both compute the same bits.
#pragma once

#include <cstdint>
#include <type_traits>

#include "05_master_weights/adam_element.hpp"
#include "05_master_weights/stochastic_round.hpp"
#include "common/hd.hpp"
#include "common/rng.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::optim {

/// Element i: the weight from the master (mode 0) or from the working copy (modes 1, 2),
/// Adam in fp32, then the master and/or the working copy written.
template <class S, class G>
HALFWAY_HD_INLINE void adam_apply(std::int64_t i, float* master, S* working, const G* grad, float* m, float* v,
                                  const AdamConstants& c, int mode, std::uint64_t sr_seed) {
  const float g = layers::ld(grad[i]);
  float mi = m[i], vi = v[i];
  if constexpr (std::is_same_v<S, float>) {
    master[i] = adam_element(master[i], g, mi, vi, c);  // fp32: the working copy is the master
  } else if (mode == 0) {
    const float w = adam_element(master[i], g, mi, vi, c);
    master[i] = w;
    working[i] = layers::st<S>(w);
  } else {
    const float w = adam_element(layers::ld(working[i]), g, mi, vi, c);
    working[i] = mode == 1 ? layers::st<S>(w) : stochastic_round<S>(w, rng::bits(sr_seed, std::uint64_t(i)));
  }
  m[i] = mi;
  v[i] = vi;
}

}  // namespace halfway::optim
