/// @file batch.hpp
/// @brief One batch of a sequence-to-sequence task, as the Transformer reads it, and its
/// packed form: a header and every array in one block of bytes, so that one copy moves a
/// micro-batch to the device.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace halfway {

/// Token ids (int32, row-major [B, L]) and padding masks (nonzero = padding). tgt_in is the
/// decoder's input (`<sos>` w1 ... wn), tgt_out what it must predict (w1 ... wn `<eos>`).
struct Batch {
  int B = 0, Ls = 0, Lt = 0;
  std::vector<std::int32_t> src, tgt_in, tgt_out;  ///< [B, Ls], [B, Lt], [B, Lt]
  std::vector<std::uint8_t> src_pad, tgt_pad;      ///< [B, Ls], [B, Lt]
};

/// What the kernels read per step from a packed batch's start (device memory, so a replayed
/// graph sees the current batch's values, not the captured ones).
struct BatchHeader {
  std::int32_t B = 0, Ls = 0, Lt = 0;
  std::int32_t counted = 0;      ///< targets the loss counts (not its ignore index)
  std::uint64_t step = 0;        ///< the micro-batch index: dropout's step
  std::uint64_t step_seed = 0;   ///< dropout's seed of that step (modules.hpp, dropout_seed)
};

/// Byte offsets of a packed batch's parts, each 256-byte aligned (as a Buf's start, so every
/// array is aligned for any kernel that reads it); a mask that is empty takes no bytes.
struct PackedBatchLayout {
  static constexpr std::size_t kAlign = 256;
  std::size_t src = 0, tgt_in = 0, tgt_out = 0, src_pad = 0, tgt_pad = 0, bytes = 0;
  bool has_src_pad = true, has_tgt_pad = true;

  PackedBatchLayout(int B, int Ls, int Lt, bool src_pad = true, bool tgt_pad = true)
      : has_src_pad(src_pad), has_tgt_pad(tgt_pad) {
    const std::size_t ns = std::size_t(B) * Ls, nt = std::size_t(B) * Lt;
    std::size_t at = 0;
    const auto take = [&](std::size_t n) {
      const std::size_t here = at;
      at += (n + kAlign - 1) / kAlign * kAlign;
      return here;
    };
    take(sizeof(BatchHeader));
    src = take(ns * sizeof(std::int32_t));
    tgt_in = take(nt * sizeof(std::int32_t));
    tgt_out = take(nt * sizeof(std::int32_t));
    this->src_pad = take(src_pad ? ns : 0);
    this->tgt_pad = take(tgt_pad ? nt : 0);
    bytes = at;
  }
  /// The layout of b's arrays.
  explicit PackedBatchLayout(const Batch& b)
      : PackedBatchLayout(b.B, b.Ls, b.Lt, !b.src_pad.empty(), !b.tgt_pad.empty()) {}
};

/// The targets of b that are not `ignore_index`: the rows a mean loss divides by.
inline std::int32_t counted_targets(const Batch& b, std::int32_t ignore_index) {
  return std::int32_t(std::count_if(b.tgt_out.begin(), b.tgt_out.end(),
                                    [&](std::int32_t t) { return t != ignore_index; }));
}

/// Writes h and b's arrays at PackedBatchLayout(b)'s offsets into dst (its bytes).
inline void pack_batch(const Batch& b, const BatchHeader& h, std::byte* dst) {
  const PackedBatchLayout at(b);
  const auto put = [&](std::size_t offset, const auto& v) {
    std::memcpy(dst + offset, v.data(), v.size() * sizeof(v[0]));
  };
  std::memcpy(dst, &h, sizeof h);
  put(at.src, b.src);
  put(at.tgt_in, b.tgt_in);
  put(at.tgt_out, b.tgt_out);
  put(at.src_pad, b.src_pad);
  put(at.tgt_pad, b.tgt_pad);
}

}  // namespace halfway
