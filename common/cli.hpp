/// @file cli.hpp
/// @brief Every program's main: parse the command line with CLI11, run, turn errors into
/// one clear line and an exit code.
///
/// ```
/// int main(int argc, char** argv) {
///   CLI::App app{"Chapter 02: the tensor-core GEMM, timed against cuBLAS"};
///   std::string backend = "auto";
///   int n = 1024;
///   halfway::add_backend_option(app, backend);
///   app.add_option("-n,--size", n, "matrix size")->check(halfway::whole_number(1));
///   return halfway::run_program(argc, argv, app, [&] { ... });
/// }
/// ```
/// Exit codes: 0 on success and for `--help`; 2 for a bad command line (CLI11's parse
/// errors and halfway::UsageError thrown by the body); 1 for any other error. A body
/// may also throw `CLI::RuntimeError(code)` to exit quietly with `code`.
/// Standard output is line-buffered, also into a pipe or a file: every line a program
/// prints is out when it is printed, so a run that is killed keeps its log up to there.
/// Host only: this header includes CLI11.
#pragma once

#include <charconv>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/backend.hpp"

namespace halfway {

/// Parses argv into `app`, then runs `body`. `--help` prints the usage to stdout and
/// returns 0. A bad option or value prints one line to stderr,
/// `<program>: error: <what> (see --help)`, and returns 2; so does a halfway::UsageError
/// from the body. Any other exception from the body prints `<program>: <message>` and
/// returns 1. The program's name is argv[0] without its folders (unless `app` has one).
int run_program(int argc, char** argv, CLI::App& app, const std::function<void()>& body);

/// run_program() writing help to `out` and errors to `err`, for tests.
int run_program(int argc, char** argv, CLI::App& app, const std::function<void()>& body,
                std::ostream& out, std::ostream& err);

/// Checks of numeric options with one short line on a bad value (CLI11 prefixes the
/// option's name): "--steps: expected a whole number >= 1, found 0". CLI11's own
/// PositiveNumber prints its range with 309 digits, and an integer option quietly clamps a
/// value past its type's range to the largest (strtoll's ERANGE): whole_number refuses it.
/// A whole number in [lo, hi], in decimal digits, that fits T.
template <class T>
CLI::Validator whole_number(T lo, T hi = std::numeric_limits<T>::max());
/// A finite number > 0.
CLI::Validator positive_number();
/// A finite number >= 0.
CLI::Validator non_negative_number();
/// A finite number in [lo, hi].
CLI::Validator number_in(double lo, double hi);

/// Adds `--backend cpu|emu|cuda|auto` (default: the value `backend` holds, normally
/// "auto"), checked at parse time. Resolve it in the body with halfway::select_backend(),
/// which explains why cuda is unusable where it is.
CLI::Option* add_backend_option(CLI::App& app, std::string& backend);

/// Adds `<flag> FILE` (default `--log`): "write <what> to FILE", for a CsvWriter or
/// JsonlWriter; the body skips logging when `path` stays empty.
CLI::Option* add_log_option(CLI::App& app, std::string& path, const char* what,
                            const char* flag = "--log");

/// Adds `--dtype f32|f16|bf16` (default: the value `dtype` holds), checked at parse time;
/// convert in the body with halfway::parse_dtype().
CLI::Option* add_dtype_option(CLI::App& app, std::string& dtype);

/// The backends a benchmark measures for `--backend CHOICE`: "all" is cpu plus cuda when a
/// GPU is usable; any other name is select_backend(name).
std::vector<Backend> benchmark_backends(const std::string& choice);

/// What a benchmark over gradient buffers of a few sizes takes from its command line.
struct GradientBenchmarkOptions {
  std::vector<std::int64_t> sizes{2510000, 1 << 24};  ///< the seed's model, 2.51M, and 16M
  std::string backend = "all";
  int repeats = 10;
  std::string csv;
};
/// Adds `--sizes`, `--backend` (one of `backends`, or all), `--repeats` and `--csv` into `o`.
void add_gradient_benchmark_options(CLI::App& app, GradientBenchmarkOptions& o,
                                    const std::vector<std::string>& backends);

template <class T>
CLI::Validator whole_number(T lo, T hi) {
  static_assert(std::is_integral_v<T>);
  constexpr T largest = std::numeric_limits<T>::max();
  const std::string range =
      hi == largest ? ">= " + std::to_string(lo) : "from " + std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        const std::string expected = "expected a whole number " + range + ", found ";
        T v{};
        const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || r.ptr != text.data() + text.size()) return expected + "'" + text + "'";
        if (r.ec == std::errc::result_out_of_range && text[0] != '-')
          return expected + text + " (the largest is " + std::to_string(largest) + ")";
        if (r.ec != std::errc() || v < lo || v > hi) return expected + text;
        return {};
      },
      range);
}

}  // namespace halfway
