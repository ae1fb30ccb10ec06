/// @file step_profile.hpp
/// @brief What the runtime does in a training step (common/runtime_counters.hpp), for
/// `halfway-train --profile-steps N`: the first step alone (it allocates the workspaces),
/// then the average of the next N steps (the steady state), as a table.
///
/// @code
///   StepProfile profile(Backend::emu, 8);
///   while (...) {
///     profile.begin_step();
///     trainer.step();
///     profile.end_step();
///   }
///   std::cout << profile.table();
/// @endcode
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/runtime_counters.hpp"

namespace halfway::train {

class StepProfile {
 public:
  /// Profiles `steady_steps` steps after the first, on `where`.
  StepProfile(Backend where, std::int64_t steady_steps);
  void begin_step();
  /// Ends the step begun last: the first step, then the steady ones (later steps are not kept).
  void end_step();
  /// The first step's counts (zero before it ended).
  const RuntimeCounts& first() const { return first_; }
  /// Each steady step's counts, in order (at most steady_steps).
  const std::vector<RuntimeCounts>& steady() const { return steady_; }
  /// True once the first step and every steady step have ended.
  bool complete() const;
  /// The table: per row a counter, the first step's value and the steady steps' mean.
  std::string table() const;

 private:
  Backend where_;
  std::int64_t wanted_;
  std::int64_t ended_ = 0;
  RuntimeCounts at_begin_, first_;
  std::vector<RuntimeCounts> steady_;
};

}  // namespace halfway::train
