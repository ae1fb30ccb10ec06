/// @file device_hooks.hpp
/// @brief How common/device_memory.hpp reaches the emulator's device memory without
/// depending on the emulator's library.
///
/// A Buf on Backend::emu is allocated, copied and freed through these hooks, which the
/// emulator's runtime installs when it is linked into the program (runtime.cpp): its
/// buffers are then registered device memory (a kernel may take them as arguments) and
/// their copies go through the device's queue (a copy to the host waits for the kernels
/// before it). A program without the emulator leaves them empty, and emu memory is plain
/// host memory.
#pragma once

#include <cstddef>

namespace halfway::emu_device {

enum class Copy { to_device, to_host, within };

/// `stream`: an emulator cudaStream_t, nullptr for the legacy default stream.
struct Hooks {
  void* (*alloc)(std::size_t bytes) = nullptr;  ///< throws halfway::Error
  void (*free)(void* p) noexcept = nullptr;
  /// On `stream`; a copy to the host returns when the data is there. Throws.
  void (*copy)(void* dst, const void* src, std::size_t bytes, Copy direction, void* stream) = nullptr;
  void (*synchronize)() = nullptr;  ///< waits for the queued work; throws a kernel's error
  void* (*create_stream)() = nullptr;
  void (*destroy_stream)(void* stream) noexcept = nullptr;
  void (*synchronize_stream)(void* stream) = nullptr;  ///< throws a kernel's error
  /// Pinned host memory (cudaHostAlloc: registered, so a copy from it need not wait) and
  /// events (common/pinned.hpp, common/device_event.hpp). A copy into or out of pinned
  /// memory goes through `copy` above: the emulator sees the memory is pinned.
  void* (*host_alloc)(std::size_t bytes) = nullptr;  ///< throws halfway::Error
  void (*host_free)(void* p) noexcept = nullptr;
  void* (*event_create)() = nullptr;
  void (*event_destroy)(void* event) noexcept = nullptr;
  void (*event_record)(void* event, void* stream) = nullptr;
  bool (*event_query)(void* event) = nullptr;        ///< true when done; never waits
  void (*event_synchronize)(void* event) = nullptr;  ///< throws a kernel's error
};

/// Empty until the emulator installs its functions (before main).
inline Hooks hooks;

}  // namespace halfway::emu_device
