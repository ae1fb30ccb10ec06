/// @file device_event.hpp
/// @brief A point in a stream's work that the host can ask about (cudaEventQuery: never
/// waits) or wait for (cudaEventSynchronize: a blocking wait, counted as one).
///
/// The cpu has no streams: its work is done when the call that queued it returns, so an
/// event there is always done and waiting for it costs nothing. On emu the record is
/// queued like a kernel; in async mode it completes when the queue runs up to it (at a
/// synchronisation point, or when a query asks).
#pragma once

#include "common/backend.hpp"
#include "common/emu/device_hooks.hpp"
#include "common/stream.hpp"

namespace halfway {

/// One event on `where`, created with it and destroyed with it. Move-only.
class DeviceEvent {
 public:
  DeviceEvent() = default;
  explicit DeviceEvent(Backend where) : where_(where) {
    if (where == Backend::cuda) e_ = gpu::event_create();
    else if (where == Backend::emu && emu_device::hooks.event_create) e_ = emu_device::hooks.event_create();
  }
  ~DeviceEvent() { release(); }
  DeviceEvent(DeviceEvent&& o) noexcept : where_(o.where_), e_(o.e_), recorded_(o.recorded_) { o.e_ = nullptr; }
  DeviceEvent& operator=(DeviceEvent&& o) noexcept {
    if (this != &o) {
      release();
      where_ = o.where_, e_ = o.e_, recorded_ = o.recorded_;
      o.e_ = nullptr;
    }
    return *this;
  }
  DeviceEvent(const DeviceEvent&) = delete;
  DeviceEvent& operator=(const DeviceEvent&) = delete;

  /// Recorded on the current stream: done when the work queued before it is.
  void record() {
    recorded_ = true;
    if (where_ == Backend::cuda) gpu::event_record(e_, current_stream(where_));
    else if (e_) emu_device::hooks.event_record(e_, current_stream(where_));
  }
  /// True when the work before the last record is done (or nothing was recorded). Never
  /// waits, and the counters count no wait.
  bool done() const {
    if (!recorded_ || !e_) return true;
    return where_ == Backend::cuda ? gpu::event_query(e_) : emu_device::hooks.event_query(e_);
  }
  /// Blocks the host until done() (a blocking wait the runtime counts; none on the cpu).
  void wait() {
    if (!e_) return;
    if (where_ == Backend::cuda) gpu::event_synchronize(e_);
    else emu_device::hooks.event_synchronize(e_);
  }

 private:
  void release() noexcept {
    if (!e_) return;
    if (where_ == Backend::cuda) gpu::event_destroy(e_);
    else emu_device::hooks.event_destroy(e_);
    e_ = nullptr;
  }
  Backend where_ = Backend::cpu;
  void* e_ = nullptr;
  bool recorded_ = false;
};

}  // namespace halfway
