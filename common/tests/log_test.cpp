// Tests of common/log.hpp: CSV quoting and number round trips, JSONL round trips, errors.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/rng.hpp"

using namespace halfway;
namespace fs = std::filesystem;

namespace {
// A fresh folder under the system's temporary folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("halfway_log_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("csv cells quote what needs quoting") {
  CHECK(csv_cell("plain") == "plain");
  CHECK(csv_cell("") == "");
  CHECK(csv_cell("a,b") == "\"a,b\"");
  CHECK(csv_cell("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_cell("two\nlines") == "\"two\nlines\"");
  CHECK(csv_cell("cr\r") == "\"cr\r\"");
  CHECK(csv_cell(" padded") == "\" padded\"");
  CHECK(csv_cell(std::string("trailing ")) == "\"trailing \"");
  CHECK(csv_cell(true) == "true");
  CHECK(csv_cell(false) == "false");
  CHECK(csv_cell(42) == "42");
  CHECK(csv_cell(-7L) == "-7");
  CHECK(csv_cell(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
  CHECK(csv_cell(std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
  CHECK(csv_cell(std::uint16_t{65535}) == "65535");
}

TEST_CASE("csv numbers read back to the same value") {
  CHECK(csv_cell(0.1f) == "0.1");  // the shortest text, not 0.100000001
  CHECK(csv_cell(0.1) == "0.1");
  CHECK(csv_cell(1e-8) == "1e-08");
  CHECK(csv_cell(std::nanf("")) == "nan");
  CHECK(csv_cell(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(csv_cell(std::numeric_limits<float>::infinity()) == "inf");
  CHECK(csv_cell(-0.0f) == "-0");
  // Random bit patterns cover every exponent, subnormals and both signs.
  int checked = 0;
  for (std::uint64_t i = 0; i < 20000; ++i) {
    std::uint32_t fb = rng::bits(11, i);
    float f;
    std::memcpy(&f, &fb, sizeof f);
    const std::uint64_t db = (std::uint64_t{rng::bits(12, i)} << 32) | rng::bits(13, i);
    double d;
    std::memcpy(&d, &db, sizeof d);
    if (std::isfinite(f)) {
      const float back = std::strtof(csv_cell(f).c_str(), nullptr);
      REQUIRE(std::memcmp(&back, &f, sizeof f) == 0);
      ++checked;
    }
    if (std::isfinite(d)) {
      const double back = std::strtod(csv_cell(d).c_str(), nullptr);
      REQUIRE(std::memcmp(&back, &d, sizeof d) == 0);
      ++checked;
    }
  }
  CHECK(checked > 39000);  // all but the ~1/256 NaN/Inf patterns of float
}

TEST_CASE("csv writer writes a header and rows and creates folders") {
  TempDir dir;
  const fs::path path = dir.path / "deep" / "er" / "log.csv";
  {
    CsvWriter log(path.string(), {"step", "loss", "note"});
    CHECK(log.columns().size() == 3);
    log.row(1, 2.5f, "warm-up");
    log.row(std::size_t{2}, 0.1, "has, comma");
    CHECK(log.rows() == 2);
    // flushed after every row: readable before the writer closes
    CHECK(read_all(path) == "step,loss,note\n1,2.5,warm-up\n2,0.1,\"has, comma\"\n");
    CHECK(error_of([&] { log.row(3, 1.0); }) ==
          "csv log '" + path.string() + "': expected 3 values per row (step, loss, note), found 2");
    CHECK(log.rows() == 2);
  }
  CHECK(read_all(path) == "step,loss,note\n1,2.5,warm-up\n2,0.1,\"has, comma\"\n");
}

TEST_CASE("csv writer reports a path it cannot write") {
  TempDir dir;
  fs::create_directories(dir.path);
  const fs::path file = dir.path / "a_file";
  std::ofstream(file) << "x";
  // a folder cannot be created inside a regular file
  const std::string why = error_of([&] { CsvWriter((file / "log.csv").string(), {"a"}); });
  CHECK(why.find("csv log '" + (file / "log.csv").string() + "'") == 0);
  CHECK(why.find("expected to create folder") != std::string::npos);
  // a folder is not a writable file
  const std::string why2 = error_of([&] { CsvWriter(dir.path.string(), {"a"}); });
  CHECK(why2.find("expected a writable file, found: ") != std::string::npos);
  CHECK(error_of([&] { CsvWriter((dir.path / "x.csv").string(), {}); })
            .find("expected at least one column") != std::string::npos);
  CHECK(error_of([] { JsonlWriter(""); }) == "jsonl log: expected a file path, found an empty one");
}

TEST_CASE("jsonl writer writes one object per line that parses back") {
  TempDir dir;
  const fs::path path = dir.path / "run.jsonl";
  std::vector<nlohmann::json> records = {
      {{"step", 1}, {"loss", 2.5}, {"skipped", false}},
      {{"step", 2}, {"loss", 0.1}, {"note", "line\nbreak and \"quotes\""}},
      {{"nested", {{"scale", 65536.0}, {"steps", {1, 2, 3}}}}},
  };
  {
    JsonlWriter log(path.string());
    for (const auto& r : records) log.write(r);
    CHECK(log.rows() == 3);
    CHECK(error_of([&] { log.write(nlohmann::json::array({1, 2})); }) ==
          "jsonl log '" + path.string() + "': expected a JSON object per line, found array");
  }
  std::ifstream in(path);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    REQUIRE(n < records.size());
    CHECK(nlohmann::json::parse(line) == records[n]);
    ++n;
  }
  CHECK(n == records.size());
}
