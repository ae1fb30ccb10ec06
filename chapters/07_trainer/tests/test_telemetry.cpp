// Chapter 07: the range telemetry along a run (kernels/train/telemetry.hpp) observes only
// (a run with it trains the same bits as one without, with masters or without), writes
// consistent counts, and refuses a bad interval or file name.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/error.hpp"
#include "kernels/train/telemetry.hpp"

using namespace halfway;
using namespace halfway::train;

namespace {

TrainerOptions tiny_fp16(int steps) {
  TrainerOptions o;
  o.model = model_preset("tiny");
  o.backend = Backend::cpu;
  o.seed = 3;
  o.batch = 8;
  o.train_limit = 24;
  o.steps = steps;
  o.schedule.warmup = 4;
  o.scaler.mode = amp::ScaleMode::dynamic;
  return o;
}

std::string temp_csv(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("halfway_ch07_" + name + "_" + std::to_string(::getpid()) + ".csv"))
      .string();
}

/// The CSV as rows of column -> cell (no quoted commas in this file's cells).
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::vector<std::string> head;
  std::vector<std::map<std::string, std::string>> rows;
  const auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string c; std::getline(ss, c, ',');) out.push_back(c);
    return out;
  };
  if (std::getline(f, line)) head = split(line);
  while (std::getline(f, line)) {
    const auto cells = split(line);
    REQUIRE(cells.size() == head.size());
    std::map<std::string, std::string> r;
    for (std::size_t i = 0; i < head.size(); ++i) r[head[i]] = cells[i];
    rows.push_back(r);
  }
  return rows;
}

// Trains o for n steps twice, the second time with telemetry every 2 steps into path, and
// checks that both runs end with the same weights (masters, or the 16-bit weights without
// them) and loss scale, bit for bit: telemetry only observes.
void check_telemetry_changes_nothing(const TrainerOptions& o, int n, const std::string& path) {
  Trainer<half> plain(o);
  for (int i = 0; i < n; ++i) plain.step();
  Trainer<half> watched(o);
  {
    Telemetry t(path, 2, watched.options(), watched.train_numbers());
    t.after_step(watched);
    for (int i = 0; i < n; ++i) {
      watched.step();
      t.after_step(watched);
    }
    CHECK(t.rows() > 0);
  }
  const auto a = plain.weights_host(), b = watched.weights_host();
  REQUIRE(a.size() == b.size());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  CHECK(plain.loss_scale() == watched.loss_scale());
}

}  // namespace

TEST_CASE("telemetry: a run with it gives the same masters and scale, bit for bit, as one without [telemetry]") {
  const int n = 6;
  const std::string path = temp_csv("telemetry");
  check_telemetry_changes_nothing(tiny_fp16(n), n, path);

  // Steps 0, 2, 4, 6; every row's classes add up to its values; a larger scale never loses
  // more values to underflow than scale 1 does (|x s| grows with s).
  const auto rows = read_csv(path);
  std::map<std::string, std::int64_t> underflow_at_1, underflow_at_run;
  std::map<std::string, int> steps;
  for (const auto& r : rows) {
    std::int64_t sum = 0;
    for (const char* k : {"exact_zero", "underflow", "subnormal", "normal", "overflow", "nonfinite"}) sum += std::stoll(r.at(k));
    CHECK(sum == std::stoll(r.at("values")));
    CHECK(std::stoll(r.at("values")) > 0);
    ++steps[r.at("step")];
    if (r.at("format") != "fp16" || r.at("kind") == "unscale") continue;
    const std::string key = r.at("step") + " " + r.at("kind") + " " + r.at("tensor");
    (std::stod(r.at("loss_scale")) == 1.0 ? underflow_at_1 : underflow_at_run)[key] = std::stoll(r.at("underflow"));
  }
  CHECK(steps.size() == 4);
  for (const char* s : {"0", "2", "4", "6"}) CHECK(steps.count(s) == 1);
  REQUIRE(!underflow_at_run.empty());
  CHECK(underflow_at_1.size() == underflow_at_run.size());  // the dynamic scale is not 1: both counted
  std::int64_t lost_at_1 = 0;
  for (const auto& [key, n_run] : underflow_at_run) {
    CHECK(n_run <= underflow_at_1.at(key));
    lost_at_1 += underflow_at_1.at(key);
  }
  CHECK(lost_at_1 > 0);  // at scale 1 some of the tiny model's gradients are below fp16's 2^-24
  std::filesystem::remove(path);
}

TEST_CASE("telemetry: the fused step's unscale flushes none of the 16-bit gradients the in-place unscale flushes [telemetry]") {
  // At the run's scale (2^16 here) the tiny model's parameter gradients, stored in fp16,
  // are unscaled two ways at every measurement: the fused step's read in fp32 registers
  // keeps every stored value (1/scale times an fp16 value is far above fp32's 2^-149);
  // chapter 04's in-place unscale_ rounds the products back into fp16 and flushes those
  // below 2^-25 (the same tiny model loses values at scale 1, the first test case).
  const int n = 4;
  const std::string path = temp_csv("telemetry_unscale");
  check_telemetry_changes_nothing(tiny_fp16(n), n, path);
  std::int64_t fused_rows = 0, fused_flushed = 0, in_place_flushed = 0, kept = 0;
  for (const auto& r : read_csv(path)) {
    if (r.at("kind") != "unscale" || r.at("format") != "fp16") continue;
    CHECK(r.at("loss_scale") == r.at("run_scale"));
    if (r.at("tensor").rfind("fused", 0) == 0) {
      ++fused_rows;
      fused_flushed += std::stoll(r.at("underflow"));
      kept += std::stoll(r.at("normal"));
    } else {
      in_place_flushed += std::stoll(r.at("underflow"));
    }
  }
  CHECK(fused_rows == 3);  // steps 0, 2 and 4
  CHECK(kept > 0);
  CHECK(fused_flushed == 0);
  CHECK(in_place_flushed > 0);
  std::filesystem::remove(path);
}

TEST_CASE("telemetry: refuses a bad interval and a file that is not .csv [telemetry]") {
  const TrainerOptions o = tiny_fp16(2);
  const std::vector<int> numbers = {1, 2, 3};
  const auto error_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(error_of([&] { Telemetry t(temp_csv("bad"), 0, o, numbers); }).find("--telemetry-every >= 1") != std::string::npos);
  CHECK(error_of([&] { Telemetry t("telemetry.txt", 5, o, numbers); }).find("ending in .csv") != std::string::npos);
}

TEST_CASE("telemetry: a run without masters is measured from its 16-bit weights and trains the same bits [telemetry]") {
  const int n = 4;
  TrainerOptions o = tiny_fp16(n);
  o.master = optim::MasterMode::none;
  const std::string path = temp_csv("telemetry_none");
  check_telemetry_changes_nothing(o, n, path);
  // Steps 0, 2 and 4 measured, every parameter gradient counted (something nonzero).
  std::map<std::string, int> steps;
  std::int64_t nonzero = 0;
  for (const auto& r : read_csv(path)) {
    ++steps[r.at("step")];
    if (r.at("kind") == "parameter") nonzero += std::stoll(r.at("values")) - std::stoll(r.at("exact_zero"));
  }
  CHECK(steps.size() == 3);
  CHECK(nonzero > 0);
  std::filesystem::remove(path);
}
