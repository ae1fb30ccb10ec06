// A step recorded once and replayed (step_graph.hpp); the runtime calls are step_graph.cu.
#include "kernels/train/step_graph.hpp"

#include "common/dispatch.hpp"
#include "common/error.hpp"

namespace halfway::train {

StepGraph::StepGraph(Backend b) : where_(b) {
  if (!supported(b)) throw Error("CUDA graphs need the emu or cuda backend (this run: " + std::string(to_string(b)) + ")");
}

StepGraph::~StepGraph() { release(); }

void StepGraph::release() noexcept {
  if (graph_ || exec_) {
    if (where_ == Backend::emu) emu::graph_destroy(graph_, exec_);
#if defined(HALFWAY_HAVE_CUDA)
    else gpu::graph_destroy(graph_, exec_);
#endif
  }
  graph_ = exec_ = nullptr;
}

void StepGraph::capture(const Stream& stream, const std::function<void()>& work, const std::string& what) {
  if (stream.where() != where_ || !stream.handle())
    throw Error("capturing " + what + ": the stream is not a stream of this graph's backend");
  release();
  void* s = stream.handle();
  void* graph = nullptr;
  try {
    HALFWAY_KERNEL(where_, graph_begin_capture(s));
    {
      StreamScope scope(stream);
      work();
    }
    HALFWAY_KERNEL(where_, graph_end_capture(s, &graph));
  } catch (const std::exception& e) {
    // The first refusal names what waited; the capture is over, and nothing was recorded.
    const char* error = nullptr;
    HALFWAY_KERNEL(where_, graph_abort_capture(s, &error));
    const std::string why = e.what();
    throw Error("capturing " + what + " failed" + (error ? std::string(" (") + error + ")" : "") + ": " + why +
                (why.find("captur") != std::string::npos
                     ? " (work replayed from a graph must not wait for the device: no read-back, no synchronisation)"
                     : ""));
  }
  try {
    HALFWAY_KERNEL(where_, graph_instantiate(graph, &exec_));
  } catch (const std::exception& e) {
    HALFWAY_KERNEL(where_, graph_destroy(graph, nullptr));
    throw Error("instantiating the graph of " + what + " failed: " + e.what());
  }
  graph_ = graph;
}

void StepGraph::replay(const Stream& stream) const {
  if (!exec_) throw Error("StepGraph::replay before a capture");
  HALFWAY_KERNEL(where_, graph_launch(exec_, stream.handle()));
  ++replays_;
}

}  // namespace halfway::train
