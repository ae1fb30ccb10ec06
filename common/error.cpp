#include "common/error.hpp"

#include <cstring>

namespace halfway {

namespace {
// Paths are reported relative to the source tree: "kernels/gemm/gemm.cu:42".
const char* short_path(const char* file) {
  for (const char* top : {"/common/", "/kernels/", "/chapters/", "/solutions/", "/exercises/"}) {
    if (const char* p = std::strstr(file, top)) return p + 1;
  }
  return file;
}
}  // namespace

void fail_expected(const char* file, int line, const std::string& expected,
                   const std::string& found) {
  throw Error(std::string(short_path(file)) + ":" + std::to_string(line) + ": expected " +
              expected + ", found " + found);
}

void fail_cuda(const char* file, int line, const char* call, const char* message) {
  throw Error(std::string(short_path(file)) + ":" + std::to_string(line) + ": CUDA call " +
              call + " failed: " + message);
}

}  // namespace halfway
