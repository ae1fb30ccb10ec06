/// @file exercise.hpp
/// @brief The stub every unfilled exercise calls.
///
/// tools/exercises.py replaces the body of each exercise in solutions/ with
/// `HALFWAY_EXERCISE_NOT_IMPLEMENTED("NN.M");`. On the host and in the emulator it throws
/// halfway::ExerciseNotImplemented ("exercise NN.M is not implemented yet"); the emulator
/// carries the exception out of the kernel launch. On a real GPU the thread prints the
/// same message and traps, and the launch fails.
#pragma once

#include <atomic>

#include "common/hd.hpp"

namespace halfway {
[[noreturn]] void exercise_not_implemented(const char* id);

/// Student builds (HALFWAY_IMPL=mixed): tools/implementation.py starts each body the student
/// wrote with `HALFWAY_EXERCISE_RAN(k)` (k: the exercise's place in exercises.json), so a
/// failing test can name the student's other exercises it ran
/// (common/testing/exercise_status.hpp). `seen[k] == epoch`: exercise k ran in this test.
struct ExerciseRuns {
  static constexpr int kMax = 64;
  std::atomic<unsigned> epoch{1};
  std::atomic<unsigned> seen[kMax] = {};
};
inline ExerciseRuns exercise_runs;

/// Loads before it stores: a hot loop over a student's body writes once per test.
inline void exercise_ran(int k) {
  const unsigned now = exercise_runs.epoch.load(std::memory_order_relaxed);
  if (exercise_runs.seen[k].load(std::memory_order_relaxed) != now)
    exercise_runs.seen[k].store(now, std::memory_order_relaxed);
}
}  // namespace halfway

#if defined(__CUDA_ARCH__)
#define HALFWAY_EXERCISE_NOT_IMPLEMENTED(id)                         \
  do {                                                               \
    printf("exercise %s is not implemented yet\n", id);              \
    __trap();                                                        \
    __builtin_unreachable();                                         \
  } while (0)
#define HALFWAY_EXERCISE_RAN(k) ((void)0)  // not recorded on a GPU
#else
#define HALFWAY_EXERCISE_NOT_IMPLEMENTED(id) ::halfway::exercise_not_implemented(id)
#define HALFWAY_EXERCISE_RAN(k) ::halfway::exercise_ran(k)
#endif
