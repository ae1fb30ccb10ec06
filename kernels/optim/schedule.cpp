#include "kernels/optim/schedule.hpp"

#include <cmath>

#include "common/error.hpp"

namespace halfway::optim {
namespace {

bool positive(double v) { return std::isfinite(v) && v > 0.0; }

}  // namespace

std::string to_string(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::constant: return "constant";
    case ScheduleKind::noam: return "noam";
    case ScheduleKind::warmup_cosine: return "cosine";
    case ScheduleKind::warmup_inv_sqrt: return "inv_sqrt";
  }
  return "?";
}

ScheduleKind parse_schedule_kind(const std::string& s) {
  for (ScheduleKind k : {ScheduleKind::constant, ScheduleKind::noam, ScheduleKind::warmup_cosine,
                         ScheduleKind::warmup_inv_sqrt})
    if (s == to_string(k)) return k;
  throw UsageError("expected a schedule: constant, noam, cosine or inv_sqrt, found '" + s + "'");
}

void check(const ScheduleOptions& o) {
  if (o.kind != ScheduleKind::constant)
    HALFWAY_EXPECT(o.warmup >= 1, "a warmup of >= 1 step", std::to_string(o.warmup));
  if (o.kind == ScheduleKind::noam) {
    HALFWAY_EXPECT(positive(o.factor), "a Noam factor > 0 and finite", std::to_string(o.factor));
    HALFWAY_EXPECT(o.d_model >= 1, "a d_model >= 1", std::to_string(o.d_model));
    return;
  }
  HALFWAY_EXPECT(positive(o.peak), "a learning rate > 0 and finite", std::to_string(o.peak));
  if (o.kind == ScheduleKind::warmup_cosine) {
    HALFWAY_EXPECT(o.total > o.warmup, "a cosine schedule's total steps > its warmup",
                   "total " + std::to_string(o.total) + ", warmup " + std::to_string(o.warmup));
    HALFWAY_EXPECT(o.floor >= 0.0 && o.floor <= o.peak, "a cosine floor in [0, peak]", std::to_string(o.floor));
  }
}

double lr_at(const ScheduleOptions& o, std::int64_t k) {
  check(o);
  HALFWAY_EXPECT(k >= 1, "a step >= 1 (the first optimizer step is step 1)", std::to_string(k));
  return schedule_lr(o, k);
}

Schedule::Schedule(const ScheduleOptions& o) : options_(o) { check(options_); }

void Schedule::load(const ScheduleState& s) {
  HALFWAY_EXPECT(s.step >= 0, "a saved schedule step count >= 0", std::to_string(s.step));
  state_ = s;
}

}  // namespace halfway::optim
