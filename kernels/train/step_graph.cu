// The graph calls of StepGraph (API: step_graph.hpp), one source for both runtimes: under
// g++ the names are the emulator's (common/emu/queue.hpp), under nvcc CUDA's.
#include <string>

#include "common/device.cuh"
#include "kernels/train/step_graph.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// "cudaStreamEndCapture: cudaErrorStreamCaptureInvalidated (operation failed due to ...)".
[[noreturn]] void fail(const char* call, cudaError_t e) {
  throw Error(std::string(call) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}
void check(const char* call, cudaError_t e) {
  if (e != cudaSuccess) fail(call, e);
}

}  // namespace

void graph_begin_capture(void* stream) {
  // Global mode: an unsafe call from any thread (cudaMalloc among them) fails the capture.
  check("cudaStreamBeginCapture", cudaStreamBeginCapture(as_stream(stream), cudaStreamCaptureModeGlobal));
}

void graph_end_capture(void* stream, void** graph) {
  cudaGraph_t g = nullptr;
  check("cudaStreamEndCapture", cudaStreamEndCapture(as_stream(stream), &g));
  *graph = g;
}

void graph_abort_capture(void* stream, const char** error) noexcept {
  const cudaError_t first = cudaGetLastError();  // the refusal, before the calls below add theirs
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(as_stream(stream), &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t g = nullptr;
    if (cudaStreamEndCapture(as_stream(stream), &g) == cudaSuccess && g) cudaGraphDestroy(g);
  }
  (void)cudaGetLastError();  // reported once, by the caller
  *error = first == cudaSuccess ? nullptr : cudaGetErrorName(first);
}

void graph_instantiate(void* graph, void** exec) {
  cudaGraphExec_t e = nullptr;
  check("cudaGraphInstantiate", cudaGraphInstantiate(&e, static_cast<cudaGraph_t>(graph), 0));
  *exec = e;
}

void graph_launch(void* exec, void* stream) {
  check("cudaGraphLaunch", cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), as_stream(stream)));
}

void graph_destroy(void* graph, void* exec) noexcept {
  if (exec) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec));
  if (graph) cudaGraphDestroy(static_cast<cudaGraph_t>(graph));
}

}  // namespace halfway::HALFWAY_KERNEL_NS
