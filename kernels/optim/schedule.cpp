#include "kernels/optim/schedule.hpp"

#include <cmath>
#include <numbers>

#include "06_clipping_warmup/noam.hpp"
#include "common/error.hpp"

namespace halfway::optim {
namespace {

bool positive(double v) { return std::isfinite(v) && v > 0.0; }

double linear_warmup(const ScheduleOptions& o, std::int64_t k) { return o.peak * double(k) / double(o.warmup); }

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
  switch (o.kind) {
    case ScheduleKind::constant: return o.peak;
    case ScheduleKind::noam: return noam_lr(o.factor, o.d_model, o.warmup, k);
    case ScheduleKind::warmup_cosine: {
      if (k <= o.warmup) return linear_warmup(o, k);
      const double p = std::min(1.0, double(k - o.warmup) / double(o.total - o.warmup));
      return o.floor + (o.peak - o.floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
    }
    case ScheduleKind::warmup_inv_sqrt:
      if (k <= o.warmup) return linear_warmup(o, k);
      return o.peak * std::sqrt(double(o.warmup) / double(k));
  }
  throw Error("lr_at: unknown schedule");
}

Schedule::Schedule(const ScheduleOptions& o) : options_(o) { check(options_); }

void Schedule::load(const ScheduleState& s) {
  HALFWAY_EXPECT(s.step >= 0, "a saved schedule step count >= 0", std::to_string(s.step));
  state_ = s;
}

}  // namespace halfway::optim
