// CSV and JSON Lines writers (common/log.hpp).
#include "common/log.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/error.hpp"

namespace halfway {

namespace detail {

namespace {
int close_file(std::FILE* f) { return (f && f != stdout) ? std::fclose(f) : 0; }

std::FILE* open_for_writing(const std::string& path, const char* kind) {
  if (path == "-") return stdout;
  if (path.empty()) throw Error(std::string(kind) + " log: expected a file path, found an empty one");
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec)
      throw Error(std::string(kind) + " log '" + path + "': expected to create folder '" +
                  p.parent_path().string() + "', found: " + ec.message());
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f)
    throw Error(std::string(kind) + " log '" + path + "': expected a writable file, found: " +
                std::strerror(errno));
  return f;
}
}  // namespace

LogFile::LogFile(const std::string& path, const char* kind)
    : path_(path), file_(open_for_writing(path, kind), &close_file) {}

void LogFile::write_line(std::string_view line) {
  const bool ok = std::fwrite(line.data(), 1, line.size(), file_.get()) == line.size() &&
                  std::fputc('\n', file_.get()) != EOF && std::fflush(file_.get()) == 0;
  if (!ok) throw Error("log '" + path_ + "': expected to write a line, found: " + std::strerror(errno));
}

}  // namespace detail

// ---- cells ------------------------------------------------------------------------------

namespace {
template <class F>
std::string shortest(F value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);  // shortest round trip
  return std::string(buf, result.ptr);
}
}  // namespace

std::string csv_cell(double value) { return shortest(value); }
std::string csv_cell(float value) { return shortest(value); }
std::string csv_cell(std::int64_t value) { return std::to_string(value); }
std::string csv_cell(std::uint64_t value) { return std::to_string(value); }
std::string csv_cell(bool value) { return value ? "true" : "false"; }

std::string csv_cell(std::string_view value) {
  const bool quote = value.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!value.empty() && (value.front() == ' ' || value.back() == ' ' ||
                                         value.front() == '\t' || value.back() == '\t'));
  if (!quote) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

// ---- CsvWriter --------------------------------------------------------------------------

CsvWriter::CsvWriter(const std::string& path, std::vector<std::string> columns)
    : file_(path, "csv"), columns_(std::move(columns)) {
  if (columns_.empty()) throw Error("csv log '" + path + "': expected at least one column, found none");
  std::string line;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (i) line += ',';
    line += csv_cell(std::string_view(columns_[i]));
  }
  file_.write_line(line);
}

void CsvWriter::row_cells(const std::vector<std::string>& cells) {
  if (cells.size() != columns_.size()) {
    std::string names;
    for (std::size_t i = 0; i < columns_.size(); ++i) names += (i ? ", " : "") + columns_[i];
    throw Error("csv log '" + path() + "': expected " + std::to_string(columns_.size()) +
                " values per row (" + names + "), found " + std::to_string(cells.size()));
  }
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) line += ',';
    line += cells[i];
  }
  file_.write_line(line);
  ++rows_;
}

// ---- JsonlWriter ------------------------------------------------------------------------

JsonlWriter::JsonlWriter(const std::string& path) : file_(path, "jsonl") {}

void JsonlWriter::write(const nlohmann::json& record) {
  if (!record.is_object())
    throw Error("jsonl log '" + path() + "': expected a JSON object per line, found " +
                std::string(record.type_name()));
  // dump() escapes control characters, so a record never spans two lines. Invalid UTF-8
  // in a string is replaced rather than thrown on: a log line must never stop a run.
  file_.write_line(record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  ++rows_;
}

}  // namespace halfway
