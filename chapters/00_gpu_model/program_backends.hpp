/// @file program_backends.hpp
/// @brief Which backends a chapter-00 program runs its kernels on.
#pragma once

#include <string>
#include <vector>

#include "common/backend.hpp"

namespace halfway::intro {

/// "all" means emu, plus cuda where a GPU is usable; otherwise the one backend named.
inline std::vector<Backend> kernel_backends(const std::string& choice) {
  if (choice == "all") {
    std::vector<Backend> list{Backend::emu};
    if (gpu_usable()) list.push_back(Backend::cuda);
    return list;
  }
  return {select_backend(choice)};
}

}  // namespace halfway::intro
