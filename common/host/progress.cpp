// Progress bar and progress lines (common/progress.hpp).
#include "common/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

namespace halfway {

namespace {
constexpr double kBarInterval = 0.1;   // seconds between redraws of the bar
constexpr double kLineInterval = 5.0;  // seconds between plain lines, at the latest
constexpr int kBarWidth = 24;

double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::size_t terminal_columns() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

std::string format(const char* fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

// 81.2/s, 1234/s, 0.05/s: three significant digits without an exponent.
std::string rate_text(double rate) {
  if (rate >= 100) return format("%.0f/s", rate);
  if (rate >= 10) return format("%.1f/s", rate);
  return format("%.2f/s", rate);
}

// 0:06, 12:34, 1:02:03.
std::string clock_text(double seconds) {
  const long s = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char buf[64];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}
}  // namespace

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

Progress::Progress(std::string label, std::size_t total)
    : Progress(std::move(label), total, std::cout, stdout_is_terminal()) {}

Progress::Progress(std::string label, std::size_t total, std::ostream& out, bool terminal,
                   std::function<double()> clock)
    : label_(std::move(label)),
      total_(total),
      out_(&out),
      terminal_(terminal),
      clock_(clock ? std::move(clock) : std::function<double()>(steady_seconds)) {
  start_ = clock_();
  last_draw_ = start_;
  next_line_at_ = total_ ? (total_ + 9) / 10 : 0;
}

Progress::~Progress() {
  if (drawn_ && !finished_) {
    *out_ << '\n';
    out_->flush();
  }
}

double Progress::elapsed() const { return clock_() - start_; }

std::string Progress::counts_and_rate() const {
  const double t = elapsed();
  std::string s = std::to_string(done_);
  if (total_) s += "/" + std::to_string(total_);
  if (t > 0 && done_ > 0) s += "  " + rate_text(static_cast<double>(done_) / t);
  return s;
}

void Progress::update(std::size_t done, std::string_view status) {
  if (finished_) return;
  done_ = done;
  const double now = clock_();
  if (terminal_) {
    if (!drawn_ || now - last_draw_ >= kBarInterval || (total_ && done >= total_)) {
      last_draw_ = now;
      draw_bar(status, false);
    }
    return;
  }
  const bool crossed = total_ && done >= next_line_at_;
  if (crossed || now - last_draw_ >= kLineInterval) {
    last_draw_ = now;
    print_line(status);
    if (total_) {
      // the next tenth of the total after `done`
      const std::size_t tenth = done * 10 / total_ + 1;
      next_line_at_ = (tenth * total_ + 9) / 10;
    }
  }
}

void Progress::draw_bar(std::string_view status, bool final) {
  std::string line = label_;
  const double t = elapsed();
  if (total_) {
    const std::size_t shown = std::min(done_, total_);
    const int filled = static_cast<int>(shown * kBarWidth / total_);
    line += " [" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "] ";
    line += format("%3.0f%%", 100.0 * static_cast<double>(shown) / static_cast<double>(total_));
  }
  line += "  " + counts_and_rate();
  if (final) {
    line += "  in " + format("%.1f s", t);
  } else if (total_ && done_ > 0 && done_ < total_ && t > 0) {
    const double rate = static_cast<double>(done_) / t;
    line += "  ETA " + clock_text(static_cast<double>(total_ - done_) / rate);
  }
  if (!status.empty()) line += "  " + std::string(status);
  const std::size_t width = out_ == &std::cout ? terminal_columns() : 100;
  if (line.size() > width - 1) line.resize(width - 1);  // a wrapped line cannot be redrawn
  *out_ << '\r' << line << "\x1b[K";
  if (final) *out_ << '\n';
  out_->flush();
  drawn_ = !final;
}

void Progress::print_line(std::string_view status) {
  std::string line = label_ + ": " + std::to_string(done_);
  const double t = elapsed();
  if (total_) {
    line += "/" + std::to_string(total_) +
            format(" (%.0f%%)", 100.0 * static_cast<double>(done_) / static_cast<double>(total_));
  }
  if (t > 0 && done_ > 0) {
    const double rate = static_cast<double>(done_) / t;
    line += ", " + rate_text(rate);
    if (total_ && done_ < total_)
      line += ", ETA " + clock_text(static_cast<double>(total_ - done_) / rate);
  }
  if (!status.empty()) line += ", " + std::string(status);
  *out_ << line << '\n';
  out_->flush();
}

void Progress::finish(std::string_view status) {
  if (finished_) return;
  const double t = elapsed();
  if (terminal_) {
    draw_bar(status, true);
  } else {
    std::string line = label_ + ": done " + std::to_string(done_);
    if (total_) line += "/" + std::to_string(total_);
    line += " in " + format("%.1f s", t);
    if (t > 0 && done_ > 0) line += " (" + rate_text(static_cast<double>(done_) / t) + ")";
    if (!status.empty()) line += ", " + std::string(status);
    *out_ << line << '\n';
    out_->flush();
  }
  finished_ = true;
}

}  // namespace halfway
