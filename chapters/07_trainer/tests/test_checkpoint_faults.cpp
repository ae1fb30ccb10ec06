// Chapter 07: checkpoints edited by hand, each with its checksum made valid again (so that
// only the check under test can refuse them): Adam's moments missing (all, or any one
// tensor: the first parameter's m once decided whether any were read), two tensors over
// the same bytes, a negative step, garbage where a header should be. Each must be refused
// with one readable line, and nothing of the trainer changed. Also the checksum's text: 16 hex digits, leading zeros
// kept, and the shorter form of older checkpoints still read.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/train/checkpoint_io.hpp"
#include "kernels/train/trainer.hpp"
#include "chapters/07_trainer/tests/trainer_helpers.hpp"

using namespace halfway;
using namespace halfway::train;
using namespace ch07test;

namespace {

std::string read_file(const std::string& path) { return read_whole_file(path); }

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
}

/// A checkpoint of 3 fp16 Adam steps of the tiny model in a fresh folder.
std::string saved_checkpoint(const std::string& name) {
  const std::string dir = fresh_dir(name);
  Trainer<half> t(tiny(10, amp::ScaleMode::dynamic));
  for (int i = 0; i < 3; ++i) t.step();
  t.save(dir);
  return dir;
}

/// Replaces the checkpoint's tensor file by `bytes` and makes trainer.json agree with it
/// (size and checksum): only the file's content can then be refused.
void replace_tensor_file(const std::string& dir, const std::string& bytes) {
  nlohmann::json j = nlohmann::json::parse(read_file(dir + "/trainer.json"));
  write_file(dir + "/" + j["tensors"].get<std::string>(), bytes);
  j["bytes"] = bytes.size();
  j["fnv1a64"] = checksum_text(fnv1a64(bytes));
  write_file(dir + "/trainer.json", j.dump(2));
}

struct TensorFile {
  nlohmann::json header;  ///< name -> {dtype, shape, data_offsets} (and __metadata__)
  std::string data;
};

TensorFile read_tensor_file(const std::string& dir) {
  const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/trainer.json"));
  const std::string bytes = read_file(dir + "/" + j["tensors"].get<std::string>());
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t(std::uint8_t(bytes[std::size_t(i)])) << (8 * i);
  return {nlohmann::json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

/// The file again, every tensor the filter keeps packed in order (no holes).
std::string packed(const TensorFile& f, const std::function<bool(const std::string&)>& keep) {
  std::vector<TensorOut> ts;
  for (const auto& [name, info] : f.header.items()) {
    if (name == "__metadata__" || !keep(name)) continue;
    const auto off = info["data_offsets"].get<std::vector<std::size_t>>();
    ts.push_back({name, info["dtype"], info["shape"].get<std::vector<std::int64_t>>(), f.data.data() + off[0], off[1] - off[0]});
  }
  return safetensors_bytes(ts, f.header.value("__metadata__", nlohmann::json::object()));
}

/// The header `h` (padded) in front of `data`.
std::string with_header(const nlohmann::json& h, const std::string& data) {
  std::string text = h.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((std::uint64_t(text.size()) >> (8 * i)) & 0xff);
  return out + text + data;
}

bool printable_line(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

/// load() refuses the checkpoint with a message holding `want`, and changes nothing.
void refused(const std::string& dir, const std::string& want) {
  Trainer<half> t(tiny(10, amp::ScaleMode::dynamic));
  const auto before = t.masters_host();
  const std::string message = error_of([&] { t.load(dir); });
  CAPTURE(message);
  CHECK(message.find(want) != std::string::npos);
  CHECK(printable_line(message));
  CHECK(t.steps_done() == 0);
  CHECK(same_bits(t.masters_host(), before));
  CHECK(t.moments_host().empty());
}

}  // namespace

TEST_CASE("checkpoint: an edited checkpoint loads as saved when nothing is removed [checkpoint]") {
  // The helpers' own check: repacking every tensor gives a file the trainer loads.
  const std::string dir = saved_checkpoint("faults_repacked");
  replace_tensor_file(dir, packed(read_tensor_file(dir), [](const std::string&) { return true; }));
  Trainer<half> t(tiny(10, amp::ScaleMode::dynamic));
  t.load(dir);
  CHECK(t.steps_done() == 3);
  CHECK_FALSE(t.moments_host().empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint: Adam's moments missing are refused for every tensor not only the first [checkpoint]") {
  const std::string dir = saved_checkpoint("faults_moments");
  const TensorFile f = read_tensor_file(dir);
  SUBCASE("all of them") {
    replace_tensor_file(dir, packed(f, [](const std::string& n) { return n.rfind("adam.", 0) != 0; }));
    refused(dir, "is missing (Adam's moments, after 3 Adam steps)");
  }
  SUBCASE("any one tensor of them") {
    int tried = 0;
    for (const auto& [name, info] : f.header.items()) {
      if (name.rfind("adam.", 0) != 0) continue;
      CAPTURE(name);
      replace_tensor_file(dir, packed(f, [&](const std::string& n) { return n != name; }));
      refused(dir, "tensor " + name + " is missing");
      ++tried;
    }
    CHECK(tried == 2 * 37);  // m and v of the tiny model's 37 parameter tensors
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint: two tensors over the same bytes are refused even with a valid checksum [checkpoint]") {
  const std::string dir = saved_checkpoint("faults_overlap");
  TensorFile f = read_tensor_file(dir);
  // The first parameter's v made to read its m's bytes: same dtype and size, so only the
  // layout can tell.
  std::string m;
  for (const auto& [name, info] : f.header.items())
    if (m.empty() && name.rfind("adam.m.", 0) == 0) m = name;
  const std::string v = "adam.v." + m.substr(7);
  REQUIRE(f.header.contains(v));
  f.header[v]["data_offsets"] = f.header[m]["data_offsets"];
  replace_tensor_file(dir, with_header(f.header, f.data));
  refused(dir, "overlap");
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint: a negative or inconsistent counter in trainer.json is refused [checkpoint]") {
  const std::string dir = saved_checkpoint("faults_counters");
  const std::string good = read_file(dir + "/trainer.json");
  const auto edited = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json j = nlohmann::json::parse(good);
    j[key] = value;
    write_file(dir + "/trainer.json", j.dump(2));
  };
  edited("step", -5);
  refused(dir, "\"step\": -5, expected an integer >= 0");
  CHECK(error_of([&] { read_checkpoint_info(dir); }).find("\"step\": -5") != std::string::npos);
  edited("step", 99999999999999999999.0);  // a number, but not an integer
  refused(dir, "\"step\"");
  edited("adam_step", 4);  // more Adam steps than steps
  refused(dir, "\"adam_step\": 4, more than its \"step\" 3");
  edited("micro_batches", 2);  // the data order's position must be step x accumulate
  refused(dir, "\"micro_batches\": 2, expected step x accumulate = 3 x 1");
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint: garbage in place of a header is described in one printable line [checkpoint]") {
  const std::string dir = saved_checkpoint("faults_garbage");
  const std::string garbage = "\x89PNG\r\n\x1a\n\xff\xfe\x01\x02 not a header";
  SUBCASE("the tensor file's header, with a valid checksum") {
    std::string bytes(8, '\0');
    bytes[0] = char(garbage.size());
    replace_tensor_file(dir, bytes + garbage);
    refused(dir, "found bytes that are not JSON (at byte 1 of the header)");
  }
  SUBCASE("trainer.json") {
    write_file(dir + "/trainer.json", garbage);
    refused(dir, "trainer.json is damaged (not JSON at byte 1)");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint: the checksum is written with 16 hex digits and read in either form [checkpoint]") {
  CHECK(checksum_text(0x0123456789abcdefull) == "0123456789abcdef");
  CHECK(checksum_text(0xabc) == "0000000000000abc");
  std::uint64_t sum = 0;
  CHECK(parse_checksum("abc", sum));  // a checkpoint written before the fixed width
  CHECK(sum == 0xabc);
  CHECK(parse_checksum("0000000000000abc", sum));
  CHECK(sum == 0xabc);
  CHECK_FALSE(parse_checksum("", sum));
  CHECK_FALSE(parse_checksum("00000000000000abc", sum));  // 17 digits
  CHECK_FALSE(parse_checksum("xyz", sum));
  const std::string dir = saved_checkpoint("faults_checksum");
  const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/trainer.json"));
  CHECK(j["fnv1a64"].get<std::string>().size() == 16);
  std::filesystem::remove_all(dir);
}
