// The per-step counter table of halfway-train --profile-steps (step_profile.hpp).
#include "kernels/train/step_profile.hpp"

#include <cstdio>

namespace halfway::train {

StepProfile::StepProfile(Backend where, std::int64_t steady_steps) : where_(where), wanted_(steady_steps) {}

void StepProfile::begin_step() { at_begin_ = runtime_counts(where_); }

void StepProfile::end_step() {
  const RuntimeCounts step = runtime_counts(where_) - at_begin_;
  if (ended_++ == 0) first_ = step;
  else if (std::int64_t(steady_.size()) < wanted_) steady_.push_back(step);
}

bool StepProfile::complete() const { return ended_ > 0 && std::int64_t(steady_.size()) == wanted_; }

std::string StepProfile::table() const {
  struct Row {
    const char* name;
    unsigned long long RuntimeCounts::*field;
  };
  constexpr Row rows[] = {{"kernel launches", &RuntimeCounts::launches},
                          {"graph launches", &RuntimeCounts::graph_launches},
                          {"memsets", &RuntimeCounts::memsets},
                          {"host-to-device copies", &RuntimeCounts::h2d},
                          {"host-to-device bytes", &RuntimeCounts::h2d_bytes},
                          {"device-to-host copies", &RuntimeCounts::d2h},
                          {"device-to-host bytes", &RuntimeCounts::d2h_bytes},
                          {"device-to-device copies", &RuntimeCounts::d2d},
                          {"device-to-device bytes", &RuntimeCounts::d2d_bytes},
                          {"blocking waits", &RuntimeCounts::waits},
                          {"allocations", &RuntimeCounts::allocations}};
  char line[160];
  std::snprintf(line, sizeof line, "runtime counters per step on %s (common/runtime_counters.hpp):\n",
                std::string(to_string(where_)).c_str());
  std::string out = line;
  std::snprintf(line, sizeof line, "  %-24s %12s %16s\n", "", "first step",
                ("steady (" + std::to_string(steady_.size()) + " steps)").c_str());
  out += line;
  for (const Row& r : rows) {
    double sum = 0;
    for (const RuntimeCounts& c : steady_) sum += double(c.*r.field);
    const double mean = steady_.empty() ? 0.0 : sum / double(steady_.size());
    std::snprintf(line, sizeof line, "  %-24s %12llu %16.2f\n", r.name, first_.*r.field, mean);
    out += line;
  }
  return out;
}

}  // namespace halfway::train
