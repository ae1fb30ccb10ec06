/// @file pinned.hpp
/// @brief Pinned (page-locked) host memory on a backend, and the async copies between it
/// and device memory.
///
/// A copy from or into pageable host memory makes the host wait (CUDA stages it through a
/// synchronous copy: common/runtime_counters.hpp counts a blocking wait); one from or into
/// pinned memory is queued on the stream and returns at once. The price: the host must
/// not write the source (or read the destination) until the copy is done, which an event
/// recorded after it tells (common/device_event.hpp).
///
/// - cpu: plain host memory, and the copies are memcpy (the cpu's work is done when the
///   call returns).
/// - emu: cudaHostAlloc's registered memory, so the emulator queues the copy without a wait
///   (and accepts the memory as a kernel argument, as a GPU would).
/// - cuda: cudaHostAlloc, cudaMemcpyAsync on the current stream.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/backend.hpp"
#include "common/device_memory.hpp"
#include "common/emu/device_hooks.hpp"
#include "common/error.hpp"
#include "common/runtime_counters.hpp"
#include "common/stream.hpp"

namespace halfway {

/// `bytes` of pinned host memory on `where`, allocated once (an allocation the runtime
/// counts, as allocation_count does), freed with it. Move-only.
class PinnedBytes {
 public:
  PinnedBytes() = default;
  PinnedBytes(Backend where, std::size_t bytes) : where_(where), n_(bytes) {
    if (bytes == 0) return;
    ++detail::allocations(where);
    if (where == Backend::cuda) p_ = gpu::host_alloc(bytes);
    else if (where == Backend::emu && emu_device::hooks.host_alloc) p_ = emu_device::hooks.host_alloc(bytes);
    else {
      counters::allocation(where);
      p_ = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
      HALFWAY_EXPECT(p_ != nullptr, std::to_string(bytes) + " bytes of host memory", "allocation failure");
    }
  }
  ~PinnedBytes() { release(); }
  PinnedBytes(PinnedBytes&& o) noexcept : where_(o.where_), p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  PinnedBytes& operator=(PinnedBytes&& o) noexcept {
    if (this != &o) {
      release();
      where_ = o.where_, p_ = o.p_, n_ = o.n_;
      o.p_ = nullptr, o.n_ = 0;
    }
    return *this;
  }
  PinnedBytes(const PinnedBytes&) = delete;
  PinnedBytes& operator=(const PinnedBytes&) = delete;

  std::byte* data() { return static_cast<std::byte*>(p_); }
  const std::byte* data() const { return static_cast<const std::byte*>(p_); }
  std::size_t size() const { return n_; }
  Backend where() const { return where_; }

 private:
  void release() noexcept {
    if (!p_) return;
    // As cudaFreeHost: the copies queued from or into it still run first.
    if (where_ == Backend::cuda) gpu::host_free(p_);
    else if (where_ == Backend::emu && emu_device::hooks.host_free) emu_device::hooks.host_free(p_);
    else std::free(p_);
    p_ = nullptr, n_ = 0;
  }
  Backend where_ = Backend::cpu;
  void* p_ = nullptr;
  std::size_t n_ = 0;
};

/// Pinned host memory -> `where`'s memory, queued on the current stream (no wait): `src`
/// must stay as it is until the copy is done.
inline void copy_in_async(Backend where, void* dst, const void* pinned_src, std::size_t bytes) {
  if (bytes == 0) return;
  if (where == Backend::cuda) gpu::copy_to_device_async(dst, pinned_src, bytes, current_stream(where));
  else copy_in(where, dst, pinned_src, bytes);  // emu: the emulator sees pinned memory and waits not
}
/// `where`'s memory -> pinned host memory, queued on the current stream (no wait): read
/// `dst` only after an event recorded after the copy is done.
inline void copy_out_async(Backend where, void* pinned_dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  if (where == Backend::cuda) gpu::copy_to_host_async(pinned_dst, src, bytes, current_stream(where));
  else if (where == Backend::emu && emu_device::hooks.copy)
    emu_device::hooks.copy(pinned_dst, src, bytes, emu_device::Copy::to_host, current_stream(where));
  else copy_out(where, pinned_dst, src, bytes);
}

}  // namespace halfway
