// The cuda backend in a build without CUDA: every call explains why it cannot run.
#include "common/backend.hpp"
#include "common/error.hpp"

namespace halfway {

namespace {
[[noreturn]] void no_cuda() { no_cuda_build("cuda backend"); }
}  // namespace

bool gpu_usable() { return false; }
std::string gpu_description() { return "no usable GPU: this build has no CUDA support"; }

namespace gpu {
void* malloc_bytes(std::size_t) { no_cuda(); }
void free_bytes(void*) noexcept {}
void copy_to_device(void*, const void*, std::size_t, void*) { no_cuda(); }
void copy_to_host(void*, const void*, std::size_t, void*) { no_cuda(); }
void copy_on_device(void*, const void*, std::size_t, void*) { no_cuda(); }
void synchronize() { no_cuda(); }
void* create_stream() { no_cuda(); }
void destroy_stream(void*) noexcept {}
void synchronize_stream(void*) { no_cuda(); }
void* host_alloc(std::size_t) { no_cuda(); }
void host_free(void*) noexcept {}
void copy_to_device_async(void*, const void*, std::size_t, void*) { no_cuda(); }
void copy_to_host_async(void*, const void*, std::size_t, void*) { no_cuda(); }
void* event_create() { no_cuda(); }
void event_destroy(void*) noexcept {}
void event_record(void*, void*) { no_cuda(); }
bool event_query(void*) { no_cuda(); }
void event_synchronize(void*) { no_cuda(); }
}  // namespace gpu

}  // namespace halfway
