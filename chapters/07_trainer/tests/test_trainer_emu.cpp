// Chapter 07 on a device (emu, or cuda in the gpu binary): the same training loop runs there,
// learns, skips an injected inf, and resumes bit for bit. Tiny model, few steps.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "kernels/train/trainer.hpp"

using namespace halfway;
using namespace halfway::train;

TEST_CASE("trainer on a device: a few fp16 steps learn, skip an injected inf and resume bit for bit [device]") {
  TrainerOptions o;
  o.model = model_preset("tiny");
  o.backend = select_backend(HALFWAY_TEST_BACKEND);
  o.batch = 4;
  o.train_limit = 8;
  o.steps = 6;
  o.schedule.warmup = 2;
  o.scaler.mode = amp::ScaleMode::dynamic;
  o.fault = parse_fault("inf@2");
  o.log_every = 1;  // the checks below read every step's values
  const auto dir = (std::filesystem::temp_directory_path() / ("halfway_ch07_test_device_" + std::string(HALFWAY_TEST_BACKEND) + "_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  std::vector<float> masters;
  {
    Trainer<half> t(o);
    const StepResult a = t.step();
    CHECK(std::isfinite(a.loss));
    CHECK(t.step().skipped);
    CHECK(t.loss_scale() == 32768.0f);
    t.step();
    t.save(dir);
    for (int i = 0; i < 3; ++i) t.step();
    masters = t.masters_host();
    CHECK(t.step().loss < a.loss);
  }
  Trainer<half> r(o);
  r.load(dir);
  for (int i = 0; i < 3; ++i) r.step();
  const auto again = r.masters_host();
  CHECK(std::memcmp(again.data(), masters.data(), masters.size() * sizeof(float)) == 0);
  std::filesystem::remove_all(dir);
}
