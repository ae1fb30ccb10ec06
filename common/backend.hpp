/// @file backend.hpp
/// @brief The three ways to run an op, and choosing one.
///
/// - `cpu`: the host implementation (the test oracle and the trainer's CPU backend);
/// - `emu`: the CUDA kernel compiled by g++ and run by the SIMT emulator;
/// - `cuda`: the same kernel compiled by nvcc, on an NVIDIA GPU.
///
/// `auto` picks cuda when a usable GPU is present, else cpu. Asking for cuda where there
/// is none is an Error with the reason, never a crash. Nothing here touches the GPU
/// before it is first asked (no static initialisers).
#pragma once

#include <string>
#include <string_view>

namespace halfway {

enum class Backend { cpu, emu, cuda };

/// "cpu", "emu" or "cuda".
std::string_view to_string(Backend b);

/// Parses "cpu", "emu", "cuda" or "auto" (resolved as above). Throws UsageError on
/// another name, Error when cuda is asked for and unusable.
Backend select_backend(std::string_view name);

/// True when this build has CUDA and a GPU answers. Asked once, then remembered.
bool gpu_usable();

/// One line: the GPU in use ("NVIDIA H200, sm_90, 139 GiB"), or why there is none.
std::string gpu_description();

/// Memory on the GPU, for the cuda backend's buffers. Each throws Error where no GPU is
/// usable or the CUDA call fails.
/// A copy goes on `stream` (a cudaStream_t; nullptr: the legacy default stream); one to the
/// host returns when the data is there, a blocking wait (common/stream.hpp).
namespace gpu {
void* malloc_bytes(std::size_t bytes);
void free_bytes(void* p) noexcept;
void copy_to_device(void* dst, const void* src, std::size_t bytes, void* stream = nullptr);
void copy_to_host(void* dst, const void* src, std::size_t bytes, void* stream = nullptr);
void copy_on_device(void* dst, const void* src, std::size_t bytes, void* stream = nullptr);
void synchronize();
void* create_stream();
void destroy_stream(void* stream) noexcept;
void synchronize_stream(void* stream);
/// Pinned host memory (cudaHostAlloc), the async copies from and into it (no wait: the
/// host must not touch the memory before an event after the copy is done), and events
/// (common/pinned.hpp, common/device_event.hpp).
void* host_alloc(std::size_t bytes);
void host_free(void* p) noexcept;
void copy_to_device_async(void* dst, const void* pinned_src, std::size_t bytes, void* stream);
void copy_to_host_async(void* pinned_dst, const void* src, std::size_t bytes, void* stream);
void* event_create();
void event_destroy(void* event) noexcept;
void event_record(void* event, void* stream);
bool event_query(void* event);  ///< true when done; never waits
void event_synchronize(void* event);
}  // namespace gpu

/// Throws Error: "<what>: expected a build with CUDA, found one without it".
[[noreturn]] void no_cuda_build(const char* what);

}  // namespace halfway
