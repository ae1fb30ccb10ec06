/// @file checkpoint_io.hpp
/// @brief The file side of a checkpoint: safetensors bytes, a checksum, and a write that is
/// atomic on a crash.
///
/// Atomic write (write_file_atomic): the bytes go to `name.tmp` in the same folder, are
/// fsync'ed, the temporary file is renamed over `name` (rename(2) replaces a file in one
/// step on POSIX file systems), and the folder itself is fsync'ed so the rename survives a
/// power cut. A crash at any moment leaves either the old file or the new one, never a
/// mixture; at worst a stray `.tmp` that the next write replaces.
///
/// The checksum is FNV-1a over the whole file (64 bits): not cryptographic, but any
/// truncation, flipped bit or edited byte changes it with probability 1 - 2^-64.
/// Host only (includes nlohmann/json.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace halfway::train {

/// One tensor of a safetensors file to write. `dtype` is safetensors' name ("F32", "F16", "BF16").
struct TensorOut {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
  std::size_t bytes = 0;
};

/// A whole safetensors file: 8-byte little-endian header length, the JSON header (padded
/// with spaces to a multiple of 8 bytes), the tensors' bytes in the given order.
/// `metadata` (string values only, as the format requires) goes under "__metadata__".
std::string safetensors_bytes(const std::vector<TensorOut>& tensors, const nlohmann::json& metadata = {});

/// FNV-1a, 64 bits.
std::uint64_t fnv1a64(std::string_view bytes);
/// A checksum as trainer.json writes it: 16 lower-case hex digits, leading zeros included.
std::string checksum_text(std::uint64_t sum);
/// Reads checksum_text's form (or the shorter one of checkpoints written before it: 1 to 16
/// hex digits); false for anything else.
bool parse_checksum(std::string_view text, std::uint64_t& sum);

/// Writes `bytes` to dir/name atomically (see the file's description); creates `dir` when
/// missing. `crash_midway` simulates a crash: half the bytes reach the temporary file, then
/// an Error is thrown (the old dir/name is untouched). `pause_midway_ms` > 0 (a test hook for
/// a real kill): with half the bytes written, one line on stderr ("checkpoint write paused
/// halfway ..."), then a pause of that many milliseconds before the rest. Throws Error
/// naming the path on any failure.
void write_file_atomic(const std::string& dir, const std::string& name, std::string_view bytes,
                       bool crash_midway = false, int pause_midway_ms = 0);

/// Creates `dir` when missing and writes (and removes) a small file in it: an Error naming
/// the folder and the reason when it cannot take files. For a check before a long run.
void check_writable_folder(const std::string& dir);

/// The whole file; Error naming the path when it cannot be read.
std::string read_whole_file(const std::string& path);

}  // namespace halfway::train
