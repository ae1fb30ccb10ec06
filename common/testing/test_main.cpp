// The main of every test binary. A binary built for the gpu backend exits with 77
// (ctest: "Skipped") when no GPU is usable, but still lists its tests, so ctest's
// discovery at build time works on any machine. The GPU is first touched here, in main.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

#include "common/backend.hpp"
#if defined(HALFWAY_EXERCISE_STATUS_FILE)  // a student build (HALFWAY_IMPL=mixed)
#include "common/testing/exercise_status.hpp"
#endif

namespace {
bool only_lists(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strstr(a, "list") || std::strcmp(a, "-h") == 0 || std::strstr(a, "help") ||
        std::strncmp(a, "-l", 2) == 0 || std::strcmp(a, "-v") == 0 || std::strcmp(a, "--version") == 0)
      return true;
  }
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  doctest::Context context;
  context.applyCommandLine(argc, argv);
#if defined(HALFWAY_EXERCISE_STATUS_FILE)
  if (!halfway::testing::apply_exercise_status(HALFWAY_EXERCISE_STATUS_FILE)) return 2;
#endif
#if defined(HALFWAY_TEST_NEEDS_GPU)
  if (!only_lists(argc, argv) && !halfway::gpu_usable()) {
    std::printf("skipped: %s\n", halfway::gpu_description().c_str());
    return 77;
  }
#else
  (void)only_lists;
#endif
  return context.run();
}
