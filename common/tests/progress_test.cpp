// Tests of common/progress.hpp, with a fake clock and a string stream for the terminal.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "common/progress.hpp"

using namespace halfway;

namespace {
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST_CASE("progress prints a plain line every tenth of the total") {
  std::ostringstream out;
  double now = 0;
  {
    Progress p("train", 100, out, /*terminal=*/false, [&] { return now; });
    for (std::size_t i = 1; i <= 100; ++i) {
      now = static_cast<double>(i) / 100;  // 100 per second: only the tenths print
      p.update(i, "loss 1.5");
    }
    p.finish("loss 1.2");
  }
  const auto l = lines(out.str());
  REQUIRE(l.size() == 11);  // 10%, 20%, ..., 100%, and the summary
  CHECK(l[0].rfind("train: 10/100 (10%), ", 0) == 0);
  CHECK(l[0].find("loss 1.5") != std::string::npos);
  CHECK(l[4].rfind("train: 50/100 (50%), 100/s, ETA 0:01", 0) == 0);  // 50 in 0.5 s
  CHECK(l[9].rfind("train: 100/100 (100%)", 0) == 0);
  CHECK(l[10] == "train: done 100/100 in 1.0 s (100/s), loss 1.2");
  CHECK(out.str().find('\r') == std::string::npos);
}

TEST_CASE("progress prints a plain line every few seconds of a slow loop") {
  std::ostringstream out;
  double now = 0;
  Progress p("eval", 1000, out, false, [&] { return now; });
  now = 6;
  p.update(1);
  now = 7;
  p.update(2);  // 1 s later: nothing
  now = 12;
  p.update(3);
  const auto l = lines(out.str());
  REQUIRE(l.size() == 2);
  CHECK(l[0].rfind("eval: 1/1000 (0%)", 0) == 0);
  CHECK(l[1].rfind("eval: 3/1000 (0%)", 0) == 0);
}

TEST_CASE("progress redraws a bar on a terminal at most ten times a second") {
  std::ostringstream out;
  double now = 0;
  Progress p("train", 1000, out, /*terminal=*/true, [&] { return now; });
  for (std::size_t i = 1; i <= 1000; ++i) {
    now += 0.001;  // 1000 updates in 1 s
    p.update(i);
  }
  const std::string before_finish = out.str();
  const auto draws = std::count(before_finish.begin(), before_finish.end(), '\r');
  // the first update, one per 0.1 s (10; a few may slip by a tick of the float clock),
  // and the one reaching the total
  CHECK(draws >= 10);
  CHECK(draws <= 12);
  CHECK(before_finish.find('\n') == std::string::npos);  // redrawn in place
  CHECK(before_finish.find("[########################] 100%") != std::string::npos);
  p.finish();
  const std::string all = out.str();
  CHECK(all.back() == '\n');
  CHECK(all.find("1000/1000") != std::string::npos);
  CHECK(all.find("in 1.0 s") != std::string::npos);
}

TEST_CASE("progress bar shows the fraction and the eta") {
  std::ostringstream out;
  double now = 0;
  Progress p("gemm", 100, out, true, [&] { return now; });
  now = 5;
  p.update(50, "ok");
  const std::string s = out.str();
  CHECK(s.find("gemm [############------------]  50%  50/100  10.0/s  ETA 0:05  ok") !=
        std::string::npos);
}

TEST_CASE("progress with an unknown total counts without percentages") {
  std::ostringstream out;
  double now = 0;
  {
    Progress p("read", 0, out, false, [&] { return now; });
    now = 6;
    p.update(10);
    p.finish();
  }
  const auto l = lines(out.str());
  REQUIRE(l.size() == 2);
  CHECK(l[0].find('%') == std::string::npos);
  CHECK(l[0].rfind("read: 10, ", 0) == 0);
  CHECK(l[1].rfind("read: done 10 in 6.0 s", 0) == 0);
}

TEST_CASE("an unfinished bar ends its line when destroyed") {
  std::ostringstream out;
  double now = 0;
  {
    Progress p("x", 10, out, true, [&] { return now; });
    p.update(3);
  }
  CHECK(out.str().back() == '\n');
  CHECK(out.str().find("done") == std::string::npos);
}
