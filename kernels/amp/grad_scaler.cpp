#include "kernels/amp/grad_scaler.hpp"

#include <cmath>

#include "common/error.hpp"
#include "kernels/amp/unscale.hpp"

namespace halfway::amp {
namespace {

void check_rule(const ScaleRule& r) {
  HALFWAY_EXPECT(std::isfinite(r.growth_factor) && r.growth_factor > 1.0,
                 "a loss-scale growth factor > 1", std::to_string(r.growth_factor));
  HALFWAY_EXPECT(r.backoff_factor > 0.0 && r.backoff_factor < 1.0,
                 "a loss-scale backoff factor in (0, 1)", std::to_string(r.backoff_factor));
  HALFWAY_EXPECT(r.growth_interval >= 1, "a growth interval >= 1", std::to_string(r.growth_interval));
  HALFWAY_EXPECT(r.hysteresis >= 1, "a hysteresis >= 1", std::to_string(r.hysteresis));
  HALFWAY_EXPECT(r.min_scale >= 0.0f && r.min_scale <= r.max_scale && !std::isnan(r.max_scale),
                 "0 <= min_scale <= max_scale",
                 "min_scale " + std::to_string(r.min_scale) + ", max_scale " + std::to_string(r.max_scale));
}

void check_bounds(float s, const ScaleRule& r) {
  HALFWAY_EXPECT(s >= r.min_scale && s <= r.max_scale, "a loss scale within [min_scale, max_scale]",
                 std::to_string(s));
}

/// A scale to start from: positive and finite.
void check_scale(float s, const ScaleRule& r) {
  HALFWAY_EXPECT(std::isfinite(s) && s > 0.0f, "a positive finite loss scale", std::to_string(s));
  check_bounds(s, r);
}

/// A scale the rule can reach: also 0, where repeated backoffs end when min_scale is 0
/// (float underflow after about 150 halvings). Such a run has collapsed, but its state is
/// a true one, and a checkpoint of it must load.
void check_reachable_scale(float s, const ScaleRule& r) {
  HALFWAY_EXPECT(std::isfinite(s) && s >= 0.0f, "a finite loss scale >= 0", std::to_string(s));
  check_bounds(s, r);
}

}  // namespace

std::string to_string(ScaleMode m) {
  switch (m) {
    case ScaleMode::dynamic: return "dynamic";
    case ScaleMode::fixed: return "fixed";
    case ScaleMode::off: return "off";
  }
  return "?";
}

GradScaler::GradScaler(const ScalerOptions& options) : options_(options) {
  check_rule(options_.rule);
  check_scale(options_.init_scale, options_.rule);
  state_.scale = options_.init_scale;
  state_.growth_tracker = 0;
  state_.hysteresis_left = options_.rule.hysteresis;
}

bool GradScaler::unscale(const GradBuffer& grads) {
  HALFWAY_EXPECT(stage_ == Stage::ready, "unscale() once per step, then step() and update()",
                 "unscale() called again before update()");
  stage_ = Stage::unscaled;
  found_inf_ = false;
  if (options_.mode == ScaleMode::off) return false;
  unsigned* flag = grads.backend == Backend::cpu ? nullptr : flag_.get(1, grads.backend);
  found_inf_ = unscale_and_check(grads, inv_scale(), flag);
  return found_inf_;
}

bool GradScaler::step() {
  HALFWAY_EXPECT(stage_ != Stage::stepped, "step() once per step, then update()",
                 "step() called twice before update()");
  HALFWAY_EXPECT(stage_ == Stage::unscaled, "unscale() before step()",
                 "step() without an unscale() since the last update()");
  stage_ = Stage::stepped;
  if (found_inf_) ++skipped_;
  return !found_inf_;
}

void GradScaler::update() {
  HALFWAY_EXPECT(stage_ != Stage::ready, "an unscale() (and step()) before update()",
                 "update() with no inf check recorded since the last update()");
  if (options_.mode == ScaleMode::dynamic) update_scale(state_, found_inf_, options_.rule);
  stage_ = Stage::ready;
}

void GradScaler::abandon_step() {
  stage_ = Stage::ready;
  found_inf_ = false;
}

void GradScaler::load(const ScaleState& s) {
  check_reachable_scale(s.scale, options_.rule);
  HALFWAY_EXPECT(s.growth_tracker >= 0 && s.growth_tracker < options_.rule.growth_interval,
                 "a growth tracker in [0, growth_interval)", std::to_string(s.growth_tracker));
  HALFWAY_EXPECT(s.hysteresis_left <= options_.rule.hysteresis,
                 "a hysteresis allowance <= hysteresis", std::to_string(s.hysteresis_left));
  state_ = s;
  stage_ = Stage::ready;
  found_inf_ = false;
  skipped_ = 0;
}

}  // namespace halfway::amp
