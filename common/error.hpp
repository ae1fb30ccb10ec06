/// @file error.hpp
/// @brief Clear errors: where (file:line), what was expected, what was found.
///
/// Every check in the course reports through these, so a bad shape, a bad file or a
/// failed CUDA call reads the same way: `gemm.cpp:42: expected K >= 1, found K = 0`.
/// Programs turn an uncaught halfway::Error into one line on stderr and exit code 1
/// (see halfway::run_program in cli.hpp); a UsageError exits with code 2.
#pragma once

#include <stdexcept>
#include <string>

namespace halfway {

/// Any failure the course reports: the message is complete and printable as is.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A bad command-line value or combination: programs exit with code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

/// Thrown by an exercise stub that the student has not filled in yet.
class ExerciseNotImplemented : public Error {
 public:
  explicit ExerciseNotImplemented(const std::string& id)
      : Error("exercise " + id + " is not implemented yet") {}
};

/// Throws Error("file:line: expected <expected>, found <found>").
[[noreturn]] void fail_expected(const char* file, int line, const std::string& expected,
                                const std::string& found);

/// Throws Error("file:line: CUDA call <call> failed: <message>").
[[noreturn]] void fail_cuda(const char* file, int line, const char* call, const char* message);

}  // namespace halfway

/// Checks a condition; on failure throws halfway::Error naming file:line, the expectation
/// and what was found. `found` is only evaluated on failure.
#define HALFWAY_EXPECT(cond, expected, found)                                  \
  do {                                                                         \
    if (!(cond)) ::halfway::fail_expected(__FILE__, __LINE__, (expected), (found)); \
  } while (0)

/// Checks a CUDA runtime call (the real runtime under nvcc, the emulator's under g++).
#define HALFWAY_CUDA_CHECK(call)                                                   \
  do {                                                                             \
    auto halfway_cuda_status_ = (call);                                            \
    if (halfway_cuda_status_ != cudaSuccess)                                       \
      ::halfway::fail_cuda(__FILE__, __LINE__, #call,                              \
                           cudaGetErrorString(halfway_cuda_status_));              \
  } while (0)
