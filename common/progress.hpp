/// @file progress.hpp
/// @brief Progress of a long loop: a redrawn bar on a terminal, plain lines in a log.
///
/// ```
/// halfway::Progress progress("train", steps);
/// for (std::size_t step = 1; step <= steps; ++step) {
///   ...
///   progress.update(step, "loss 2.31");
/// }
/// progress.finish();
/// ```
/// On a terminal (stdout is a tty) the bar is redrawn in place at most ten times a
/// second: `train [#########-----------]  45%  450/1000  81.2/s  ETA 0:06  loss 2.31`.
/// Otherwise (a file, a pipe, CI) it prints a plain line at most every 10% of the total
/// or every 5 seconds, so logs stay short. update() is cheap between redraws: call it
/// every iteration. A total of 0 means "unknown": counts and rates, no bar or ETA.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace halfway {

/// Progress reporting for one loop (see the file's description). Not thread-safe: call
/// it from the loop's thread.
class Progress {
 public:
  /// Reports to stdout; a bar when stdout is a terminal, plain lines otherwise.
  Progress(std::string label, std::size_t total);

  /// Reports to `out`, as a bar when `terminal`; `clock` (seconds, monotonic) replaces
  /// the steady clock. For tests, and for programs that report to another stream.
  Progress(std::string label, std::size_t total, std::ostream& out, bool terminal,
           std::function<double()> clock = {});

  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  /// Ends the bar's line if finish() was not called (e.g. on an exception), so the next
  /// message starts on a line of its own. Prints no summary.
  ~Progress();

  /// `done` items of `total` are complete; `status` is shown after the numbers
  /// (e.g. "loss 2.31"). Redraws or prints only when it is time to.
  void update(std::size_t done, std::string_view status = {});

  /// Prints the final state and a summary (`train: 1000/1000 in 12.3 s (81.2/s)`) on a
  /// line of its own. Further calls do nothing.
  void finish(std::string_view status = {});

  /// Seconds since construction.
  double elapsed() const;

 private:
  void draw_bar(std::string_view status, bool final);
  void print_line(std::string_view status);
  std::string counts_and_rate() const;

  std::string label_;
  std::size_t total_;
  std::ostream* out_;
  bool terminal_;
  std::function<double()> clock_;
  double start_ = 0;
  double last_draw_ = -1e300;
  std::size_t done_ = 0;
  std::size_t next_line_at_ = 0;  // plain mode: the count that earns the next line
  bool drawn_ = false;            // a bar is on screen without its newline yet
  bool finished_ = false;
};

/// True when standard output is a terminal (what Progress(label, total) asks).
bool stdout_is_terminal();

}  // namespace halfway
