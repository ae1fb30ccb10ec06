/// @file gradient_buckets.hpp
/// @brief Gradient buckets (halfway-train's --bucket-mb): the reduce of the flat gradient
/// buffer cut into pieces that start during the backward, each as soon as its layers'
/// gradients are final, so that the communication overlaps the rest of the backward
/// (PyTorch DDP's buckets).
///
/// The backward runs in the reverse order of the buffer's offsets (layers::GradsFinal):
/// after each module the gradients from some offset to the end are final. A bucket is the
/// final range not yet started, once it holds at least `bucket_bytes` of gradients; it ends
/// at module boundaries (one large module, the shared embedding, is one bucket). What a
/// bucket's reduce is belongs to the caller (`Start`): an all-reduce for plain data
/// parallel, a reduce-scatter for ZeRO-1. finish() starts what is left and waits for every
/// bucket. Each element is reduced once, by the same kind of collective as without buckets,
/// so the sums can be the same bits (the test checks that they are, for 2 and 3 ranks).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/amp/grad_scaler.hpp"
#include "kernels/dist/communicator.hpp"

namespace halfway::dist {

/// Elements [begin, end) of the flat gradient buffer.
struct Bucket {
  std::int64_t begin = 0, end = 0;
};
/// The part of `g` that `b` covers.
amp::GradBuffer slice(const amp::GradBuffer& g, Bucket b);

/// One timed span of a step, for the timeline (plots/ch08_timeline.py). Times in seconds of
/// the steady clock (CLOCK_MONOTONIC: one clock for every process of a machine).
struct TraceEvent {
  std::int64_t step = 0;
  std::string kind;  ///< "backward" (one module, the last micro-batch's), "bucket" (started
                     ///< to seen finished), "wait" (after the backward, for the buckets)
  int index = 0;     ///< the module's or bucket's number within the step
  Bucket range;      ///< the gradients it made final, or reduced
  double t0 = 0, t1 = 0;
};

class GradientBuckets {
 public:
  /// Starts the reduce of one bucket's gradients and returns at once (or once done).
  using Start = std::function<std::unique_ptr<Pending>(const amp::GradBuffer& part)>;
  /// bucket_bytes > 0 (0 means no buckets: the caller reduces after the backward instead).
  GradientBuckets(std::int64_t bucket_bytes, Start start);

  /// The backward's hook: every gradient from `from` on is final. `from` == grads.count
  /// first: a backward begins (a new step). Starts a bucket once enough is final and asks
  /// the buckets in flight whether they are done (MPI progresses them only then).
  void final_from(const amp::GradBuffer& grads, std::int64_t from);
  /// After the backward: starts what is left (all of it when final_from was never called)
  /// and waits for every bucket. The buffer then holds the reduced gradients.
  void finish(const amp::GradBuffer& grads);

  /// Records TraceEvents from now on.
  void record_trace() { tracing_ = true; }
  const std::vector<TraceEvent>& trace() const { return trace_; }
  /// The buckets of the last finished step, in the order they started.
  const std::vector<Bucket>& last_buckets() const { return last_; }

 private:
  struct InFlight {
    Bucket range;
    std::unique_ptr<Pending> pending;
    double t0 = 0;
    bool seen_done = false;
  };
  void start(const amp::GradBuffer& grads, Bucket b);
  void poll();
  void note(const char* kind, int index, Bucket range, double t0, double t1);

  std::int64_t bucket_bytes_;
  Start start_;
  bool in_backward_ = false;
  std::int64_t started_from_ = 0;  // [started_from_, count) started this step
  std::int64_t final_from_ = 0;    // [final_from_, count) final
  double last_final_t_ = 0;
  int modules_ = 0;
  std::int64_t step_ = 0;
  std::vector<InFlight> flight_;
  std::vector<Bucket> last_;
  bool tracing_ = false;
  std::vector<TraceEvent> trace_;
};

/// `events` as CSV (rank,step,kind,index,begin,end,t0_us,t1_us) to `path`; Error when it
/// cannot be written.
void write_trace_csv(const std::string& path, int rank, const std::vector<TraceEvent>& events);

}  // namespace halfway::dist
