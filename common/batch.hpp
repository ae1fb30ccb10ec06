/// @file batch.hpp
/// @brief One batch of a sequence-to-sequence task, as the Transformer reads it.
#pragma once

#include <cstdint>
#include <vector>

namespace halfway {

/// Token ids (int32, row-major [B, L]) and padding masks (nonzero = padding). tgt_in is the
/// decoder's input (`<sos>` w1 ... wn), tgt_out what it must predict (w1 ... wn `<eos>`).
struct Batch {
  int B = 0, Ls = 0, Lt = 0;
  std::vector<std::int32_t> src, tgt_in, tgt_out;  ///< [B, Ls], [B, Lt], [B, Lt]
  std::vector<std::uint8_t> src_pad, tgt_pad;      ///< [B, Ls], [B, Lt]
};

}  // namespace halfway
