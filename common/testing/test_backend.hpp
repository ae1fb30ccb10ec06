/// @file test_backend.hpp
/// @brief The backend a test binary runs its device code on: HALFWAY_TEST_BACKEND, a
/// compile definition of the binary ("cpu", "emu" or "cuda"). One test source serves the
/// cpu, emu and gpu binaries of a chapter (the gpu one exits 77, Skipped, without a GPU).
#pragma once

#include "common/backend.hpp"

namespace halfway::testing {

/// The binary's backend, resolved once (select_backend explains an unusable cuda).
inline Backend test_backend() {
  static const Backend chosen = select_backend(HALFWAY_TEST_BACKEND);
  return chosen;
}

}  // namespace halfway::testing
