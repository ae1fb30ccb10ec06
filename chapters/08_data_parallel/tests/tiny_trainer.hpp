// The tiny model's trainer options and bit comparison that chapter 08's trainer tests share:
// fp16, dynamic loss scaling, a short warmup, and a log read every step (the tests compare
// every step's loss, skip and scale).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/train/trainer.hpp"

namespace halfway::dist::testing {

inline train::TrainerOptions tiny_trainer_options(std::int64_t batch, std::int64_t train_limit, std::int64_t steps) {
  train::TrainerOptions o;
  o.model = train::model_preset("tiny");
  o.seed = 7;
  o.batch = batch;
  o.train_limit = train_limit;
  o.steps = steps;
  o.schedule.warmup = 3;
  o.schedule.factor = 1.0;
  o.scaler.mode = amp::ScaleMode::dynamic;
  o.log_every = 1;
  return o;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace halfway::dist::testing
