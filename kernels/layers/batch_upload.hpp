/// @file batch_upload.hpp
/// @brief A batch where the kernels read it: on a device, its header and arrays packed on
/// the host (common/batch.hpp) and moved by one copy into one device buffer; on the cpu,
/// pointers into the host batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/batch.hpp"
#include "common/device_memory.hpp"
#include "common/error.hpp"

namespace halfway::layers {

/// The batch's pointers in the layers' memory (the masks nullptr when the batch has none).
struct DeviceBatch {
  const BatchHeader* header = nullptr;
  const std::int32_t *src = nullptr, *tgt_in = nullptr, *tgt_out = nullptr;
  const std::uint8_t *src_pad = nullptr, *tgt_pad = nullptr;
};

class BatchUpload {
 public:
  /// Sizes the buffers once for every batch up to B x Ls x Lt (`device`: on the layers'
  /// backend, else nothing to size): no later upload of such a batch allocates.
  void reserve(int B, int Ls, int Lt, bool device) {
    const PackedBatchLayout at(B, Ls, Lt);
    staging_.reserve(at.bytes);
    if (device) device_.get(at.bytes);
  }

  /// b with its header where the kernels read it. On a device, one copy on the current
  /// stream (the host's staging buffer may be refilled at once: copy_in's contract); b's
  /// tokens must already be checked. On the cpu, b itself: it must outlive the view.
  const DeviceBatch& upload(const Batch& b, const BatchHeader& h, bool device) {
    if (!device) {
      header_ = h;
      view_ = {&header_, b.src.data(), b.tgt_in.data(), b.tgt_out.data(),
               b.src_pad.empty() ? nullptr : b.src_pad.data(), b.tgt_pad.empty() ? nullptr : b.tgt_pad.data()};
      return view_;
    }
    const PackedBatchLayout at(b);
    std::byte* d = nullptr;
    if (use_slot_ >= 0) {  // preloaded: no copy here (a graph then records none)
      d = slots_[std::size_t(use_slot_)].data();
      use_slot_ = -1;
    } else {
      d = device_.get(at.bytes);
      stage_and_copy(b, h, d, at.bytes);
    }
    const auto ints = [&](std::size_t offset) { return reinterpret_cast<const std::int32_t*>(d + offset); };
    const auto mask = [&](bool has, std::size_t offset) {
      return has ? reinterpret_cast<const std::uint8_t*>(d + offset) : nullptr;
    };
    view_ = {reinterpret_cast<const BatchHeader*>(d), ints(at.src), ints(at.tgt_in), ints(at.tgt_out),
             mask(at.has_src_pad, at.src_pad), mask(at.has_tgt_pad, at.tgt_pad)};
    return view_;
  }
  /// A step replayed from a graph (kernels/train/step_graph.hpp): micro-batch `slot` of the
  /// step goes to the device now, outside the graph (one copy on the current stream, into a
  /// device buffer of that slot's), and the upload() after use_slot(slot) reads it there
  /// without a copy. The graph then records no copy, and each replay reads the batches the
  /// host preloaded before it. A slot's buffer is allocated by its first preload.
  void preload(int slot, const Batch& b, const BatchHeader& h) {
    const PackedBatchLayout at(b);
    if (slots_.size() <= std::size_t(slot)) slots_.resize(std::size_t(slot) + 1);
    stage_and_copy(b, h, slots_[std::size_t(slot)].get(at.bytes), at.bytes);
  }
  /// The next upload() takes slot `slot`'s preloaded batch (of the same shape).
  void use_slot(int slot) { use_slot_ = slot; }
  /// The last upload's view.
  const DeviceBatch& view() const { return view_; }

 private:
  // b and h packed into the staging buffer, then one copy of `bytes` to d.
  void stage_and_copy(const Batch& b, const BatchHeader& h, std::byte* d, std::size_t bytes) {
    staging_.resize(bytes);
    pack_batch(b, h, staging_.data());
    copy_in(d, staging_.data(), bytes);
  }
  std::vector<std::byte> staging_;
  Buf<std::byte> device_;
  std::vector<Buf<std::byte>> slots_;  // preload()'s device buffers
  int use_slot_ = -1;
  BatchHeader header_;  // the cpu's header
  DeviceBatch view_;
};

}  // namespace halfway::layers
