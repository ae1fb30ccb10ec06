/// @file log.hpp
/// @brief Machine-readable logs: CSV tables and JSON Lines, read by plots/ and by tests.
///
/// Every program that measures something can write it with these, so the plots read one
/// format. Both writers create the file's parent folders, flush after every row (a
/// crashed or interrupted run keeps what it logged; `tail -f` works), and report a file
/// they cannot write as a halfway::Error naming the path and the reason. The path "-"
/// writes to standard output.
///
/// Numbers are written so that reading them back gives the same value: the shortest
/// decimal that round-trips (std::to_chars), e.g. `0.1` for 0.1f and `1e-08` for 1e-8.
/// NaN and infinities are written `nan`, `inf`, `-inf` (Python's float() and pandas read
/// them). Host only: this header includes nlohmann/json.hpp.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

namespace halfway {

namespace detail {
/// An open output file ("-": stdout) that flushes on request; closes on destruction.
class LogFile {
 public:
  LogFile(const std::string& path, const char* kind);
  void write_line(std::string_view line);  // appends '\n' and flushes
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
};
}  // namespace detail

/// The CSV text of one value: numbers round-trip (see the file's description), bool is
/// `true`/`false`, strings are quoted when they hold a comma, quote, line break or
/// leading/trailing space (quotes doubled, RFC 4180).
std::string csv_cell(double value);
std::string csv_cell(float value);
std::string csv_cell(std::int64_t value);
std::string csv_cell(std::uint64_t value);
std::string csv_cell(bool value);
std::string csv_cell(std::string_view value);
inline std::string csv_cell(const char* value) { return csv_cell(std::string_view(value)); }
inline std::string csv_cell(const std::string& value) { return csv_cell(std::string_view(value)); }
/// Other integers widen to 64 bits.
template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
std::string csv_cell(T value) {
  if constexpr (std::is_signed_v<T>) return csv_cell(static_cast<std::int64_t>(value));
  else return csv_cell(static_cast<std::uint64_t>(value));
}

/// A CSV file with a header row: `CsvWriter log(path, {"step", "loss"}); log.row(1, 2.5f);`
class CsvWriter {
 public:
  /// Opens (truncates) `path`, creating its parent folders, and writes the header row.
  /// Throws Error when the file cannot be written or the header is empty.
  CsvWriter(const std::string& path, std::vector<std::string> columns);

  /// Writes one row of numbers and/or strings, one per column, and flushes. Throws Error
  /// when the count differs from the header's.
  template <class... Values>
  void row(const Values&... values) {
    row_cells({csv_cell(values)...});
  }
  /// Writes one row of already formatted cells (see csv_cell()).
  void row_cells(const std::vector<std::string>& cells);

  const std::string& path() const { return file_.path(); }
  const std::vector<std::string>& columns() const { return columns_; }
  /// Data rows written so far (the header not counted).
  std::size_t rows() const { return rows_; }

 private:
  detail::LogFile file_;
  std::vector<std::string> columns_;
  std::size_t rows_ = 0;
};

/// A JSON Lines file: one JSON object per line, e.g. one per training step.
class JsonlWriter {
 public:
  /// Opens (truncates) `path`, creating its parent folders. Throws Error when it cannot.
  explicit JsonlWriter(const std::string& path);

  /// Writes `record` on one line and flushes. Throws Error unless it is a JSON object.
  /// (nlohmann::json writes NaN and infinities as null.)
  void write(const nlohmann::json& record);

  const std::string& path() const { return file_.path(); }
  /// Records written so far.
  std::size_t rows() const { return rows_; }

 private:
  detail::LogFile file_;
  std::size_t rows_ = 0;
};

}  // namespace halfway
