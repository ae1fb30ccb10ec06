// Chapter 07's tests: what the trainer's test files share (a tiny run, a fresh folder, bit
// comparison, an error's message). The backend comes from HALFWAY_TEST_BACKEND.
#pragma once

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/error.hpp"
#include "kernels/train/trainer.hpp"

namespace ch07test {

using namespace halfway;
using namespace halfway::train;

inline Backend test_backend() { return select_backend(HALFWAY_TEST_BACKEND); }

inline TrainerOptions tiny(int steps, amp::ScaleMode scaling = amp::ScaleMode::off) {
  TrainerOptions o;
  o.model = model_preset("tiny");
  o.backend = test_backend();
  o.seed = 7;
  o.batch = 8;
  o.train_limit = 24;  // 3 batches an epoch: the resumed run crosses an epoch boundary
  o.steps = steps;
  o.schedule.warmup = 4;
  o.schedule.factor = 1.0;
  o.scaler.mode = scaling;
  o.log_every = 1;  // every step's values read (the tests check them step by step)
  return o;
}

/// A fresh folder in the system's temporary directory (never the source tree).
inline std::string fresh_dir(const std::string& name) {
  const auto p = std::filesystem::temp_directory_path() / ("halfway_ch07_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  return p.string();
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace ch07test
