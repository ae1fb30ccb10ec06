#include "kernels/train/checkpoint_io.hpp"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "common/error.hpp"

namespace halfway::train {

std::string safetensors_bytes(const std::vector<TensorOut>& tensors, const nlohmann::json& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.is_null() && !metadata.empty()) header["__metadata__"] = metadata;
  std::size_t at = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {at, at + t.bytes}}};
    at += t.bytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((n >> (8 * i)) & 0xff);
  out.reserve(8 + h.size() + at);
  out += h;
  for (const auto& t : tensors) out.append(static_cast<const char*>(t.data), t.bytes);
  return out;
}

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string checksum_text(std::uint64_t sum) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(sum));
  return text;
}

bool parse_checksum(std::string_view text, std::uint64_t& sum) {
  if (text.empty() || text.size() > 16) return false;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), sum, 16);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

namespace {
[[noreturn]] void fail_io(const std::string& what, const std::string& path) {
  throw Error("cannot " + what + " " + path + ": " + std::strerror(errno));
}
void make_folder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create the folder " + dir + ": " + ec.message());
}
void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) fail_io("open", path);
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) fail_io("fsync", path);
}
}  // namespace

void write_file_atomic(const std::string& dir, const std::string& name, std::string_view bytes, bool crash_midway,
                       int pause_midway_ms) {
  make_folder(dir);
  const std::string path = dir + "/" + name, tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail_io("create", tmp);
  std::size_t done = 0;
  const auto write_to = [&](std::size_t n) {
    while (done < n) {
      const ssize_t w = ::write(fd, bytes.data() + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ::close(fd);
        fail_io("write", tmp);
      }
      done += std::size_t(w);
    }
  };
  const std::size_t n = bytes.size() / 2;
  write_to(n);
  if (pause_midway_ms > 0) {  // the test hook: a killer waits for this line
    std::fprintf(stderr, "checkpoint write paused halfway: %s (%zu of %zu bytes written)\n", tmp.c_str(), n,
                 bytes.size());
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_midway_ms));
  }
  if (crash_midway) {
    ::close(fd);
    throw Error("simulated crash while writing " + tmp + " (" + std::to_string(n) + " of " +
                std::to_string(bytes.size()) + " bytes written)");
  }
  write_to(bytes.size());
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail_io("fsync", tmp);
  }
  if (::close(fd) != 0) fail_io("close", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_io("rename " + tmp + " to", path);
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

void check_writable_folder(const std::string& dir) {
  make_folder(dir);
  const std::string probe = dir + "/.write-test-" + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error("cannot write into the folder " + dir + ": " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace halfway::train
