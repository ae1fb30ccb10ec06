/// @file queue.hpp
/// @brief When the emulated device runs its work: the work queue (async mode), streams,
/// events, and graph capture.
///
/// As on a GPU, a kernel launch, a memset, a device-to-device copy and a copy from the
/// host return before the work is done: the work waits in one queue, in issue order, and
/// runs at the next synchronisation point that waits for it:
/// - cudaDeviceSynchronize (everything), cudaStreamSynchronize(s) (everything up to the
///   last work queued on s), cudaEventSynchronize(e) (up to e's record);
/// - a copy to pageable host memory (cudaMemcpy on the default stream waits for every
///   stream; cudaMemcpyAsync for its stream); a copy into pinned host memory is queued too,
///   and its data is there only after a synchronisation point.
/// Host code that reads a result without waiting for it then sees the old contents, as it
/// may on a GPU. Running every stream's work in issue order is one of the orders a GPU may
/// choose, so correct code gives the same results in both modes.
///
/// A copy from pageable host memory is staged (the host may reuse its buffer at once, as
/// with CUDA); one from pinned memory reads it when it runs. cudaFree and cudaFreeHost
/// forget the allocation at once (a later launch that passes it is an error) and release
/// the memory when the work queued before them has run.
///
/// Errors found while a kernel runs (a KernelError, ExerciseNotImplemented ...) come out of
/// the synchronisation point that runs it, and the rest of the queue is dropped: a GPU's
/// context is unusable after a kernel fault.
///
/// HALFWAY_EMU_ASYNC=0 (or set_async_mode(false)) runs every call at once, in call order:
/// an error then comes out of the launch line itself, which helps when debugging a kernel.
///
/// Graphs: cudaStreamBeginCapture(s) records the work submitted to s (kernels with their
/// arguments, copies, memsets, event records) instead of running it; cudaStreamEndCapture
/// returns it as a graph, cudaGraphInstantiate makes it launchable, and cudaGraphLaunch
/// queues the recorded work again on a stream, in the recorded order. A synchronisation of
/// the capturing stream (a copy into pageable host memory included) or of the whole device,
/// or work on the legacy default stream
/// during a capture, is an error (cudaErrorStreamCaptureUnsupported or ...Implicit) and
/// invalidates the capture, as CUDA does.
#pragma once

#include <cstdint>
#include <functional>

#include "common/emu/runtime.hpp"

namespace halfway::simt {

/// True when work is queued and runs at synchronisation points (the default). Set here,
/// else from HALFWAY_EMU_ASYNC=1|0 (read at the first use), else on.
bool async_mode();
void set_async_mode(bool on);
/// Forgets a programmatic setting: the next use reads HALFWAY_EMU_ASYNC again.
void reset_async_mode();

struct CUgraph_st;
struct CUgraphExec_st;
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;

enum cudaStreamCaptureMode : int {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus : int {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

namespace detail {

using Work = std::function<void()>;

/// Queues `work` on `stream` (nullptr: the legacy default stream), records it into the
/// stream's capture, or (async mode off) runs it at once. Returns the capture errors above.
cudaError_t submit(cudaStream_t stream, Work work);

/// Frees `p` (std::free) once the work queued before has run, and also when a kernel's
/// error drops the queue (cudaFree, cudaFreeHost).
cudaError_t release_after_queue(void* p);

/// Runs the queued work up to the last work submitted to `stream`; nullptr: all of it (the
/// legacy default stream waits for every stream). Returns the capture errors above;
/// rethrows the error of a kernel it runs.
cudaError_t drain(cudaStream_t stream);

}  // namespace detail
}  // namespace halfway::simt
