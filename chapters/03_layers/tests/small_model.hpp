// Chapter 03's device tests: the device under test and their small case, a 1+1-layer model
// and a 2 x 3 batch with padding on both sides.
#pragma once

#include "common/backend.hpp"
#include "kernels/layers/transformer.hpp"

namespace ch03test {

/// HALFWAY_TEST_BACKEND's device. Resolved on first use inside a test, never in a static
/// initialiser (ctest's discovery runs the binary at build time, and the gpu build must
/// not touch the GPU then).
inline halfway::Backend test_device() {
  static const halfway::Backend chosen = halfway::select_backend(HALFWAY_TEST_BACKEND);
  return chosen;
}

/// 7 tokens, width 16, 2 heads, feed-forward 32, one encoder and one decoder layer, dropout 0.1.
inline halfway::layers::Config small_config() {
  halfway::layers::Config c;
  c.vocab = 7, c.d_model = 16, c.heads = 2, c.d_ff = 32, c.encoder_layers = 1, c.decoder_layers = 1;
  c.dropout = 0.1f;
  return c;
}

/// Two sequences of 3 tokens, the second one padded at its end on both sides.
inline halfway::Batch small_batch() {
  halfway::Batch b;
  b.B = 2, b.Ls = 3, b.Lt = 3;
  b.src = {1, 2, 2, 3, 4, 0};
  b.src_pad = {0, 0, 0, 0, 0, 1};
  b.tgt_in = {5, 6, 6, 5, 1, 0};
  b.tgt_pad = {0, 0, 0, 0, 0, 1};
  b.tgt_out = {6, 6, 2, 1, 0, 0};
  return b;
}

}  // namespace ch03test
