/// @file step_graph.hpp
/// @brief A step recorded once and replayed (CUDA Graphs): the trainer's `--cuda-graph on`.
///
/// A steady-state training step is the same list of kernels with the same arguments every
/// time, once the host makes no decision inside it (the data arrives through a fixed
/// pinned buffer, the step counter, the learning rate and the scaler live in device
/// words). CUDA can then record that list once (stream capture) and launch all of it with
/// one call, `cudaGraphLaunch`, instead of one launch per kernel: for a small model whose
/// kernels run for microseconds, the launches are the step's cost.
///
///     StepGraph g(backend);
///     g.capture(stream, [&] { ...the step's device work... }, "step 3");  // recorded, not run
///     g.replay(stream);                                                   // runs it (queued)
///     g.replay(stream);                                                   // ...and again
///
/// While the callable runs, `stream` is the thread's current stream (common/stream.hpp),
/// so every launch with stream 0 and every Buf copy is recorded. Recorded arguments are
/// values: a pointer keeps pointing at the same buffer, a host scalar keeps the value it
/// had during the capture. A copy from pinned host memory reads it when the graph runs,
/// so the host may rewrite such a buffer between replays (once the previous replay has
/// read it).
///
/// Anything in the callable that makes the host wait for the device (a copy to pageable
/// host memory, a stream or device synchronisation) is refused by CUDA and by the
/// emulator alike: capture() then throws one Error that names `what` and the call that
/// waited, and nothing is recorded.
///
/// emu and cuda only: the cpu backend has no streams (supported() is false there).
#pragma once

#include <functional>
#include <string>

#include "common/backend.hpp"
#include "common/hd.hpp"
#include "common/stream.hpp"

namespace halfway::train {

class StepGraph {
 public:
  /// Whether `b` can capture and replay: emu and cuda.
  static bool supported(Backend b) { return b == Backend::emu || b == Backend::cuda; }

  /// An empty graph on `b`; an Error on a backend that is not supported().
  explicit StepGraph(Backend b);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  /// Records `work`'s device work on `stream` (of this graph's backend) and instantiates
  /// it, replacing what was recorded before. `what` names the work in the error
  /// ("capturing step 3 failed: ...") when it synchronised or its capture failed.
  void capture(const Stream& stream, const std::function<void()>& work, const std::string& what);
  /// True once a capture succeeded.
  bool ready() const { return exec_ != nullptr; }
  /// Queues the recorded work on `stream` and returns (no wait). An Error before capture().
  void replay(const Stream& stream) const;
  /// How many replays so far (tests).
  long replays() const { return replays_; }

 private:
  void release() noexcept;
  Backend where_;
  void* graph_ = nullptr;  ///< cudaGraph_t of where_'s runtime
  void* exec_ = nullptr;   ///< cudaGraphExec_t
  mutable long replays_ = 0;
};

}  // namespace halfway::train

/// The runtime's graph calls, compiled for the emulator (g++) and for CUDA (nvcc):
/// cudaStreamBeginCapture (global mode), cudaStreamEndCapture, cudaGraphInstantiate
/// (flags 0), cudaGraphLaunch, the destroys. Each throws an Error naming the CUDA error;
/// graph_abort_capture ends a capture that failed and takes the error it left behind (its
/// name, e.g. "cudaErrorStreamCaptureUnsupported", into *error; nullptr if none).
HALFWAY_KERNEL_API(
  void graph_begin_capture(void* stream);
  void graph_end_capture(void* stream, void** graph);
  void graph_abort_capture(void* stream, const char** error) noexcept;
  void graph_instantiate(void* graph, void** exec);
  void graph_launch(void* exec, void* stream);
  void graph_destroy(void* graph, void* exec) noexcept;
)
