#include "common/backend.hpp"

#include "common/error.hpp"

namespace halfway {

std::string_view to_string(Backend b) {
  switch (b) {
    case Backend::cpu: return "cpu";
    case Backend::emu: return "emu";
    case Backend::cuda: return "cuda";
  }
  return "?";
}

Backend select_backend(std::string_view name) {
  if (name == "cpu") return Backend::cpu;
  if (name == "emu") return Backend::emu;
  if (name == "auto") return gpu_usable() ? Backend::cuda : Backend::cpu;
  if (name == "cuda") {
    if (!gpu_usable()) throw Error("backend cuda: expected a usable NVIDIA GPU, found none (" +
                                   gpu_description() + "); use --backend cpu or emu");
    return Backend::cuda;
  }
  throw UsageError("backend: expected cpu, emu, cuda or auto, found '" + std::string(name) + "'");
}

void no_cuda_build(const char* what) {
  throw Error(std::string(what) + ": expected a build with CUDA, found one configured without it "
              "(HALFWAY_CUDA=OFF or no nvcc); use --backend cpu or emu");
}

}  // namespace halfway
