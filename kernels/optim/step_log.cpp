// The step log's host side (step_log.hpp): the record's memory, the dispatch of its
// one-thread kernels, and the read on logging steps.
#include "kernels/optim/step_log.hpp"

#include <cstring>

#include "common/dispatch.hpp"

namespace halfway::optim {

void StepLogDevice::reset(Backend b, std::int64_t taken, int skipped_in_row) {
  HALFWAY_EXPECT(log_.data() == nullptr || b == backend_, "one backend for a step log",
                 std::string(to_string(b)) + " after " + std::string(to_string(backend_)));
  backend_ = b;
  StepLog fresh{};
  fresh.taken = taken;
  fresh.skipped_in_row = fresh.max_skipped_in_row = skipped_in_row;
  fresh.scale = 1.0f;
  copy_in(b, log_.get(1, b), &fresh, sizeof fresh);
  ctl_.get(1, b);
  seen_ = fresh;
  if (b == Backend::cpu || pinned_.data()) return;
  pinned_ = PinnedBytes(b, sizeof(StepLog));
  copied_ = DeviceEvent(b);
}

void StepLogDevice::begin(const amp::ScalerWords* sw, const StepPlan& p) {
  if (backend_ == Backend::cpu) return begin_step(*log_.data(), *ctl_.data(), *sw, p);
  HALFWAY_KERNEL(backend_, step_log_begin(log_.data(), ctl_.data(), sw, p));
}

void StepLogDevice::end(const StepWords* w, const amp::ScalerWords* sw, const StepRule& rule, int collapse_after) {
  if (backend_ == Backend::cpu) return end_step(*log_.data(), *w, *sw, rule, collapse_after);
  HALFWAY_KERNEL(backend_, step_log_end(log_.data(), w, sw, rule, collapse_after));
}

const StepLog& StepLogDevice::read() {
  HALFWAY_EXPECT(log_.data() != nullptr, "a step log reset() before read()", "none");
  if (backend_ == Backend::cpu) {
    seen_ = *log_.data();
    clear_period(*log_.data());
    return seen_;
  }
  copy_out_async(backend_, pinned_.data(), log_.data(), sizeof(StepLog));
  copied_.record();
  HALFWAY_KERNEL(backend_, step_log_clear_period(log_.data()));  // after the copy, on the same stream
  copied_.wait();
  std::memcpy(&seen_, pinned_.data(), sizeof seen_);
  return seen_;
}

}  // namespace halfway::optim
