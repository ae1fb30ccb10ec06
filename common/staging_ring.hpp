/// @file staging_ring.hpp
/// @brief Host-to-device uploads that never make the host wait in the steady state: a ring
/// of pinned host slots (common/pinned.hpp), each with the event of its last copy
/// (common/device_event.hpp).
///
/// The host writes the next upload into the next slot in turn and queues one async copy
/// from it on the current stream. It may write a slot again once that slot's last copy is
/// done; it asks the slot's event first (no wait) and waits for it only when the copy is
/// still pending: the ring is full, the host runs a whole ring of uploads ahead of the
/// device. A ring as long as the host may run ahead (the trainer: one log period, whose
/// read waits for everything before it) therefore never waits in the steady state.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "common/backend.hpp"
#include "common/device_event.hpp"
#include "common/error.hpp"
#include "common/pinned.hpp"

namespace halfway {

class StagingRing {
 public:
  /// `slots` slots of `bytes` each on `where`, allocated here unless the ring already has
  /// that many of at least that size (a ring in use waits for its copies before it grows).
  void reserve(Backend where, int slots, std::size_t bytes) {
    HALFWAY_EXPECT(slots >= 1, "at least 1 staging slot", std::to_string(slots));
    if (where == where_ && std::size_t(slots) <= slots_.size() && bytes <= slot_bytes_) return;
    for (Slot& s : slots_)
      if (!s.copied.done()) s.copied.wait();
    slots = std::max(slots, int(slots_.size()));
    bytes = std::max(bytes, slot_bytes_);
    slots_.clear();
    where_ = where;
    slot_bytes_ = bytes;
    for (int i = 0; i < slots; ++i) slots_.push_back(Slot{PinnedBytes(where, bytes), DeviceEvent(where)});
    next_ = 0;
  }
  /// The next slot, free for the host to write `bytes` into (at most slot_bytes()). Waits
  /// only if the slot's last copy is still pending.
  std::byte* acquire(std::size_t bytes) {
    HALFWAY_EXPECT(bytes <= slot_bytes_, "an upload of at most " + std::to_string(slot_bytes_) + " bytes (a slot)",
                   std::to_string(bytes));
    Slot& s = slots_[next_];
    if (!s.copied.done()) s.copied.wait();
    return s.host.data();
  }
  /// The acquired slot's first `bytes` to `dst` in device memory: one async copy on the
  /// current stream, the slot's event recorded after it; the next acquire() takes the
  /// next slot.
  void send(void* dst, std::size_t bytes) {
    Slot& s = slots_[next_];
    copy_in_async(where_, dst, s.host.data(), bytes);
    s.copied.record();
    next_ = (next_ + 1) % slots_.size();
  }
  int slots() const { return int(slots_.size()); }
  std::size_t slot_bytes() const { return slot_bytes_; }

 private:
  struct Slot {
    PinnedBytes host;
    DeviceEvent copied;  // recorded after the slot's last copy
  };
  Backend where_ = Backend::cpu;
  std::vector<Slot> slots_;
  std::size_t slot_bytes_ = 0;
  std::size_t next_ = 0;
};

}  // namespace halfway
