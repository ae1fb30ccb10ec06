/// @file batch_upload.hpp
/// @brief A batch where the kernels read it: on a device, its header and arrays packed on
/// the host (common/batch.hpp) into a pinned staging slot (common/staging_ring.hpp) and
/// moved by one async copy into one device buffer, so the host does not wait; on the cpu,
/// pointers into the host batch.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/batch.hpp"
#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "common/staging_ring.hpp"

namespace halfway::layers {

/// The batch's pointers in the layers' memory (the masks nullptr when the batch has none).
struct DeviceBatch {
  const BatchHeader* header = nullptr;
  const std::int32_t *src = nullptr, *tgt_in = nullptr, *tgt_out = nullptr;
  const std::uint8_t *src_pad = nullptr, *tgt_pad = nullptr;
};

/// How many buffers a run's uploads take (BatchUpload::reserve).
struct BatchSlots {
  /// Pinned staging slots: as many uploads as the host may queue before it next waits for
  /// the device. Fewer make the host wait for a slot's copy in the steady state.
  int staging = 2;
  /// Device slots for the micro-batches of a step replayed from a graph (preload()).
  int preload = 0;
};

/// A run's slots: a staging slot for each upload of one log period and one more (the log's
/// read waits for everything queued before it, so a slot comes round again only after its
/// copy is done; at most kMaxStagingPeriod steps: a longer period waits for a slot every
/// so many steps), and with a graph a device slot for each micro-batch of a step.
inline constexpr std::int64_t kMaxStagingPeriod = 64;
inline BatchSlots batch_slots_for(std::int64_t log_every, int accumulate, bool graph) {
  const std::int64_t period = std::clamp<std::int64_t>(log_every, 1, kMaxStagingPeriod);
  return BatchSlots{int((period + 1) * accumulate), graph ? accumulate : 0};
}

class BatchUpload {
 public:
  /// Sizes the buffers once for every batch up to B x Ls x Lt (`device`: on the layers'
  /// backend, else nothing to size): the staging ring, the device buffer and the preload
  /// slots. No later upload or preload of such a batch allocates.
  void reserve(int B, int Ls, int Lt, bool device, BatchSlots slots = {}) {
    if (!device) return;
    const PackedBatchLayout at(B, Ls, Lt);
    ring_.reserve(layers::layers_backend(), slots.staging, at.bytes);
    device_.get(at.bytes);
    if (slots_.size() < std::size_t(slots.preload)) slots_.resize(std::size_t(slots.preload));
    for (Buf<std::byte>& slot : slots_) slot.get(at.bytes);
  }

  /// b with its header where the kernels read it. On a device, one async copy on the
  /// current stream from the next staging slot; b's tokens must already be checked. On the cpu, b itself: it must outlive the view.
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
  /// host preloaded before it. reserve() sizes the slots; a preload it did not size
  /// allocates (and a graph that read the old buffer is then captured again).
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
  // b and h packed into the next staging slot, then one async copy of `bytes` to d.
  void stage_and_copy(const Batch& b, const BatchHeader& h, std::byte* d, std::size_t bytes) {
    if (ring_.slots() == 0 || bytes > ring_.slot_bytes())  // not reserved (a model used alone)
      ring_.reserve(layers::layers_backend(), BatchSlots{}.staging, bytes);
    pack_batch(b, h, ring_.acquire(bytes));
    ring_.send(d, bytes);
  }
  StagingRing ring_;
  Buf<std::byte> device_;
  std::vector<Buf<std::byte>> slots_;  // preload()'s device buffers
  int use_slot_ = -1;
  BatchHeader header_;  // the cpu's header
  DeviceBatch view_;
};

}  // namespace halfway::layers
