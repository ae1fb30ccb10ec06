// The per-element work of clipping, shared by the kernels (clip.cu) and the host loops
// (clip.cpp) so that both compute the same bits.
#pragma once

#include "common/hd.hpp"
#include "kernels/layers/scalar.hpp"

namespace halfway::optim {

/// g * coef in fp32, rounded back once to G.
template <class G>
HALFWAY_HD_INLINE G scaled(G g, float coef) {
  return layers::st<G>(layers::ld(g) * coef);
}
/// g clamped to [-v, v] (for 16-bit G the bound stored is v rounded to G); NaN compares false
/// and stays.
template <class G>
HALFWAY_HD_INLINE G clamped(G g, float v) {
  const float x = layers::ld(g);
  return x > v ? layers::st<G>(v) : x < -v ? layers::st<G>(-v) : g;
}

}  // namespace halfway::optim
