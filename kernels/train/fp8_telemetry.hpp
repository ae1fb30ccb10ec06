/// @file fp8_telemetry.hpp
/// @brief Chapter 09's telemetry of an fp8 run (`halfway-train --precision fp8 --fp8-telemetry
/// FILE.csv`): every N steps, for every quantized tensor of every Linear, the scale it will
/// use next, its amax history and its counts of values cast, saturated and underflowed.
///
/// The fp8 state lives on the device (kernels/fp8/linear_fp8.hpp); this reads it between
/// steps, never inside one. CSV columns: step, linear (the weight's parameter name), role
/// (x | w | dy), format, scale, amax (the last step's), history_amax (the max over the
/// history: what delayed scaling follows), cast, saturated, underflowed (counted since the
/// start of the run), history (the last H amaxes, oldest first, separated by spaces).
#pragma once

#include <cstdint>
#include <string>

#include "common/log.hpp"
#include "kernels/fp8/linear_fp8.hpp"

namespace halfway::train {

class Fp8Telemetry {
 public:
  /// Opens (truncates) `csv_path`. UsageError when `every` < 1 or the path does not end in .csv.
  Fp8Telemetry(const std::string& csv_path, std::int64_t every);
  /// Writes the rows of `step` from `gemms` when step is a multiple of `every` (or `last`).
  void after_step(std::int64_t step, const fp8::Fp8Linears& gemms, bool last = false);
  std::size_t rows() const { return csv_.rows(); }

 private:
  std::int64_t every_;
  CsvWriter csv_;
};

}  // namespace halfway::train
