/// @file stream.hpp
/// @brief The stream a thread's device work goes on: its current stream, as PyTorch's
/// `torch.cuda.current_stream()`.
///
/// Every kernel launched with stream 0 (`HALFWAY_LAUNCH(k, grid, block, smem, 0)`, which
/// is every launch of the course's ops) and every copy of common/device_memory.hpp goes on
/// the current stream of its backend. It is the legacy default stream (nullptr) until a
/// StreamScope names another one. The trainer runs its steps on one Stream of its own, so
/// a step is one ordered list of work that the host never has to wait for, and that a
/// graph can capture (cudaStreamBeginCapture refuses the legacy default stream).
///
/// The cpu backend has no streams: there the calls below do nothing.
#pragma once

#include "common/backend.hpp"
#include "common/emu/device_hooks.hpp"
#include "common/error.hpp"

namespace halfway {

namespace detail {
/// This thread's current stream on emu (index 0) and cuda (index 1).
inline void*& current_stream_slot(Backend b) {
  static thread_local void* slots[2] = {nullptr, nullptr};
  return slots[b == Backend::cuda ? 1 : 0];
}
}  // namespace detail

/// The stream this thread's work on `b` goes on: a cudaStream_t of `b`'s runtime (the
/// emulator's or CUDA's), nullptr for the legacy default stream (always on cpu).
inline void* current_stream(Backend b) {
  return b == Backend::cpu ? nullptr : detail::current_stream_slot(b);
}

/// A stream of its own on `b` (emu or cuda; nothing on cpu), destroyed with it. Move-only.
class Stream {
 public:
  explicit Stream(Backend b) : where_(b) {
    if (b == Backend::cuda) handle_ = gpu::create_stream();
    else if (b == Backend::emu && emu_device::hooks.create_stream) handle_ = emu_device::hooks.create_stream();
  }
  ~Stream() { release(); }
  Stream(Stream&& o) noexcept : where_(o.where_), handle_(o.handle_) { o.handle_ = nullptr; }
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      release();
      where_ = o.where_, handle_ = o.handle_;
      o.handle_ = nullptr;
    }
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  Backend where() const { return where_; }
  /// The cudaStream_t, as an opaque pointer (nullptr on cpu).
  void* handle() const { return handle_; }
  /// Waits for the work queued on this stream: a blocking wait of the host.
  void synchronize() const {
    if (!handle_) return;
    if (where_ == Backend::cuda) gpu::synchronize_stream(handle_);
    else if (emu_device::hooks.synchronize_stream) emu_device::hooks.synchronize_stream(handle_);
  }

 private:
  void release() noexcept {
    if (!handle_) return;
    // As cudaStreamDestroy: the work already queued still runs (on emu, at the next
    // synchronisation point).
    if (where_ == Backend::cuda) gpu::destroy_stream(handle_);
    else if (emu_device::hooks.destroy_stream) emu_device::hooks.destroy_stream(handle_);
    handle_ = nullptr;
  }
  Backend where_ = Backend::cpu;
  void* handle_ = nullptr;
};

/// Makes `s` the current stream of its backend in this thread until the end of the scope.
class StreamScope {
 public:
  explicit StreamScope(const Stream& s) : where_(s.where()) {
    if (where_ == Backend::cpu) return;
    saved_ = detail::current_stream_slot(where_);
    detail::current_stream_slot(where_) = s.handle();
  }
  ~StreamScope() {
    if (where_ != Backend::cpu) detail::current_stream_slot(where_) = saved_;
  }
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  Backend where_;
  void* saved_ = nullptr;
};

}  // namespace halfway
