// The device-resident scaler's host side (device_scaler.hpp): checks, the host's copy of
// the state, and the dispatch of the end of a step.
#include "kernels/amp/device_scaler.hpp"

#include "common/dispatch.hpp"
#include "common/error.hpp"

namespace halfway::amp {

// GradScaler holds the checks of the options and of a loaded state: a throwaway one runs
// them, so both scalers accept exactly the same values.
DeviceScaler::DeviceScaler(const ScalerOptions& options) : options_(options), host_(GradScaler(options).state()) {}

void DeviceScaler::load(const ScaleState& s) {
  GradScaler(options_).load(s);
  host_ = s;
  uploaded_ = false;
  stale_ = false;
}

ScalerWords* DeviceScaler::words(Backend backend) {
  HALFWAY_EXPECT(!uploaded_ || backend == backend_, "one backend for a scaler's words",
                 std::string(to_string(backend)) + " after " + std::string(to_string(backend_)));
  ScalerWords* w = words_.get(1, backend);
  if (!uploaded_) {
    const ScalerWords fresh{host_, inverse_scale(host_.scale, options_.mode), 0u};
    copy_in(backend, w, &fresh, sizeof fresh);
    backend_ = backend;
    uploaded_ = true;
  }
  return w;
}

void DeviceScaler::update() {
  HALFWAY_EXPECT(uploaded_, "the scaler's words on a backend before update()", "none yet");
  ScalerWords* w = words_.data();
  stale_ = true;
  if (backend_ == Backend::cpu) return end_of_step(*w, options_.mode, options_.rule);
  HALFWAY_KERNEL(backend_, scaler_end_of_step(w, options_.mode, options_.rule));
}

void DeviceScaler::refresh() {
  if (!stale_) return;
  ScalerWords w;
  copy_out(backend_, &w, words_.data(), sizeof w);  // waits for the step's launches
  host_ = w.state;
  stale_ = false;
}

float DeviceScaler::scale() {
  if (options_.mode == ScaleMode::off) return 1.0f;
  refresh();
  return host_.scale;
}

const ScaleState& DeviceScaler::state() {
  refresh();
  return host_;
}

}  // namespace halfway::amp
