/// @file exercise.hpp
/// @brief The stub every unfilled exercise calls.
///
/// tools/exercises.py replaces the body of each exercise in solutions/ with
/// `HALFWAY_EXERCISE_NOT_IMPLEMENTED("NN.M");`. On the host and in the emulator it throws
/// halfway::ExerciseNotImplemented ("exercise NN.M is not implemented yet"); the emulator
/// carries the exception out of the kernel launch. On a real GPU the thread prints the
/// same message and traps, and the launch fails.
#pragma once

#include "common/hd.hpp"

namespace halfway {
[[noreturn]] void exercise_not_implemented(const char* id);
}

#if defined(__CUDA_ARCH__)
#define HALFWAY_EXERCISE_NOT_IMPLEMENTED(id)                         \
  do {                                                               \
    printf("exercise %s is not implemented yet\n", id);              \
    __trap();                                                        \
    __builtin_unreachable();                                         \
  } while (0)
#else
#define HALFWAY_EXERCISE_NOT_IMPLEMENTED(id) ::halfway::exercise_not_implemented(id)
#endif
