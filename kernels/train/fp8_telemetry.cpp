// Chapter 09's telemetry of an fp8 run (fp8_telemetry.hpp).
#include "kernels/train/fp8_telemetry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/error.hpp"

namespace halfway::train {

namespace {
std::int64_t checked_every(std::int64_t every, const std::string& path) {
  if (every < 1) throw UsageError("--telemetry-every: expected steps >= 1, found " + std::to_string(every));
  if (path.size() < 4 || path.compare(path.size() - 4, 4, ".csv") != 0)
    throw UsageError("--fp8-telemetry: expected a .csv file, found '" + path + "'");
  return every;
}
}  // namespace

Fp8Telemetry::Fp8Telemetry(const std::string& csv_path, std::int64_t every)
    : every_(checked_every(every, csv_path)),
      csv_(csv_path, {"step", "linear", "role", "format", "scale", "amax", "history_amax", "cast", "saturated",
                      "underflowed", "history"}) {}

void Fp8Telemetry::after_step(std::int64_t step, const fp8::Fp8Linears& gemms, bool last) {
  if (step % every_ != 0 && !last) return;
  for (const fp8::Fp8TensorReport& t : gemms.report()) {
    std::string history;
    float history_amax = 0.0f;
    for (float a : t.history) {
      char b[32];
      std::snprintf(b, sizeof b, "%s%.6g", history.empty() ? "" : " ", double(a));
      history += b;
      history_amax = std::isnan(a) || std::isnan(history_amax) ? NAN : std::max(history_amax, a);
    }
    csv_.row(step, t.linear, t.role, to_string(t.format), t.scale, t.history.empty() ? 0.0f : t.history.back(),
             history_amax, std::uint64_t(t.cast), std::uint64_t(t.saturated), std::uint64_t(t.underflowed), history);
  }
}

}  // namespace halfway::train
