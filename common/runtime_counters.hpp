/// @file runtime_counters.hpp
/// @brief What the runtime did, per backend: kernel launches, copies each way with their
/// bytes, blocking waits and allocations. A step's cost in host round trips, counted where
/// it happens (the lowest layer), read as a snapshot and a difference of two snapshots:
///
/// @code
///   const RuntimeCounts before = runtime_counts(Backend::emu);
///   trainer.step();
///   const RuntimeCounts step = runtime_counts(Backend::emu) - before;
/// @endcode
///
/// Who counts what:
/// - `cuda`: common/gpu_runtime_cuda.cpp (copies, waits, allocations) and HALFWAY_LAUNCH
///   under nvcc (common/device.cuh: launches).
/// - `emu`: the emulator's runtime (common/emu: every HALFWAY_LAUNCH, cudaMemcpy*, memset,
///   synchronisation, cudaMalloc/cudaHostAlloc, cudaGraphLaunch).
/// - `cpu`: common/device_memory.hpp (a Buf's allocation, copy_in/copy_out/copy_within).
///
/// What counts:
/// - **launches**: kernels the host launched, one per HALFWAY_LAUNCH (one with a bad
///   configuration too). The cpu backend launches nothing: it runs its host code in the
///   calling thread, so its count is 0. A kernel recorded into a graph counts once, at its
///   capture; a replay launches no kernel from the host and counts once, in `graph_launches`.
/// - **copies**: host-to-device (`h2d`), device-to-host (`d2h`) and within the device
///   (`d2d`), each with its bytes. On the cpu, copy_in into a buffer (a batch into the
///   model's buffers) is host-to-device, copy_out device-to-host: the copies a GPU would make.
///   A graph's replay counts the copies it recorded.
/// - **waits**: host calls that block until the device has done earlier work, as CUDA
///   defines them (the emulator counts what a GPU would do, whether or not its queue held
///   work): cudaDeviceSynchronize, cudaStreamSynchronize, cudaEventSynchronize; a
///   cudaMemcpy to or from the host (CUDA synchronises the legacy stream first, for pageable
///   and pinned memory alike); a cudaMemcpyAsync into or out of pageable host memory (the
///   driver may stage it through a synchronous copy); cudaFree and cudaFreeHost (they
///   synchronise the device). Not waits: a cudaMemcpyAsync from or into pinned memory, a
///   device-to-device copy, a memset, a launch. The cpu backend never waits (0).
/// - **allocations**: device and pinned host allocations (cudaMalloc, cudaHostAlloc ...;
///   on the cpu, a Buf's host allocation).
/// - **memsets**: cudaMemset(Async) calls (device work the host queues, not a kernel).
#pragma once

#include <cstddef>
#include <string>

#include "common/backend.hpp"

namespace halfway {

/// Counts since the process started (a snapshot), or between two snapshots (a difference).
struct RuntimeCounts {
  unsigned long long launches = 0, graph_launches = 0, memsets = 0;
  unsigned long long h2d = 0, h2d_bytes = 0, d2h = 0, d2h_bytes = 0, d2d = 0, d2d_bytes = 0;
  unsigned long long waits = 0, allocations = 0;

  /// Field by field (a later snapshot minus an earlier one).
  RuntimeCounts operator-(const RuntimeCounts& earlier) const;
  RuntimeCounts operator+(const RuntimeCounts& other) const;
  bool operator==(const RuntimeCounts& other) const = default;
};

/// The counts of `where` now.
RuntimeCounts runtime_counts(Backend where);

/// One line: "launches 12, h2d 1 (400 B), d2h 0 (0 B), d2d 0 (0 B), waits 0, allocations 0,
/// memsets 0, graph launches 0" (a test's failure message).
std::string to_string(const RuntimeCounts& c);

/// What the runtimes call where the work happens (thread-safe).
namespace counters {
enum class Copy { to_device, to_host, within };
void launch(Backend where);
void graph_launch(Backend where);
void memset(Backend where);
void copy(Backend where, Copy direction, std::size_t bytes);
void wait(Backend where);
void allocation(Backend where);
/// Adds a recorded tally (a graph replay's copies).
void add(Backend where, const RuntimeCounts& c);
}  // namespace counters

}  // namespace halfway
