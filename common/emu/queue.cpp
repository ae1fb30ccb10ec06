// The emulated device's work queue, streams, events, copies and graphs (see queue.hpp).
#include "common/emu/queue.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/emu/error.hpp"
#include "common/error.hpp"
#include "common/runtime_counters.hpp"

namespace halfway::simt {

struct CUgraph_st {
  std::vector<detail::Work> work;
  RuntimeCounts copies;  // the copies and memsets recorded: a replay counts them (runtime_counters.hpp)
};
struct CUgraphExec_st {
  std::vector<detail::Work> work;
  RuntimeCounts copies;
};

struct CUstream_st {
  unsigned flags = 0;
  std::uint64_t last = 0;  // ticket of the last work queued on this stream
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  std::unique_ptr<CUgraph_st> graph;  // what the capture recorded so far
};

namespace {
struct EventState {
  std::chrono::steady_clock::time_point when{};
  bool done = false;
};
}  // namespace

struct CUevent_st {
  std::shared_ptr<EventState> state;  // shared with the queued record, which may outlive the event
  std::uint64_t ticket = 0;
  bool recorded = false;
};

namespace {

// ---- async setting ---------------------------------------------------------------------

std::atomic<int> g_async{-1};  // -1: not read from the environment yet

// ---- the queue -------------------------------------------------------------------------

struct Item {
  std::uint64_t ticket;
  detail::Work work;
  void* release = nullptr;  // memory the work frees: freed even when the queue is dropped
};

struct Queue {
  std::mutex mutex;      // the fields below
  std::mutex run_mutex;  // one host thread runs queued work at a time, in ticket order
  std::deque<Item> items;
  std::uint64_t issued = 0;  // tickets given out
  std::uint64_t done = 0;    // every ticket up to this one has run (or was dropped)
  int capturing = 0;         // streams capturing now
};
Queue& queue() {
  static Queue* q = new Queue;  // never destroyed: work may be queued at exit
  return *q;
}

// Runs the queued work up to `ticket`. A throwing item drops the rest of the queue.
void run_to(std::uint64_t ticket) {
  Queue& q = queue();
  std::lock_guard run(q.run_mutex);
  for (;;) {
    Item item;
    {
      std::lock_guard lock(q.mutex);
      if (q.items.empty() || q.items.front().ticket > ticket) return;
      item = std::move(q.items.front());
      q.items.pop_front();
    }
    try {
      item.work();
    } catch (...) {
      std::lock_guard lock(q.mutex);
      for (const Item& dropped : q.items) std::free(dropped.release);
      q.items.clear();
      q.done = q.issued;
      throw;
    }
    std::lock_guard lock(q.mutex);
    q.done = item.ticket;
  }
}

bool is_pinned(const void* p) { return detail::memory_kind(p) == detail::MemoryKind::pinned; }
bool is_device(const void* p) {
  const detail::MemoryKind k = detail::memory_kind(p);
  return k == detail::MemoryKind::device || k == detail::MemoryKind::symbol;
}
bool valid_kind(cudaMemcpyKind kind) { return kind >= cudaMemcpyHostToHost && kind <= cudaMemcpyDefault; }

// cudaMemcpyDefault resolved from where the pointers are (pinned memory counts as host).
cudaMemcpyKind resolve(cudaMemcpyKind kind, const void* dst, const void* src) {
  if (kind != cudaMemcpyDefault) return kind;
  const bool d = is_device(dst), s = is_device(src);
  return d ? (s ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
           : (s ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
}

detail::Work copy_work(void* dst, const void* src, std::size_t bytes) {
  return [dst, src, bytes] { std::memmove(dst, src, bytes); };
}
// A copy from pageable host memory: the bytes are taken now, written when the copy runs.
detail::Work staged_copy_work(void* dst, const void* src, std::size_t bytes) {
  auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                             static_cast<const unsigned char*>(src) + bytes);
  return [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); };
}

bool capturing(cudaStream_t s) { return s && s->capture == cudaStreamCaptureStatusActive; }

// ---- counters (common/runtime_counters.hpp) ---------------------------------------------

// A copy of a resolved kind as the counters see it; `blocks`: the host call waits, as it
// would on a GPU.
RuntimeCounts copy_counts(cudaMemcpyKind kind, std::size_t bytes, bool blocks) {
  RuntimeCounts c;
  if (kind == cudaMemcpyHostToDevice) c.h2d = 1, c.h2d_bytes = bytes;
  else if (kind == cudaMemcpyDeviceToHost) c.d2h = 1, c.d2h_bytes = bytes;
  else if (kind == cudaMemcpyDeviceToDevice) c.d2d = 1, c.d2d_bytes = bytes;
  c.waits = blocks ? 1 : 0;
  return c;
}
// Counts now, or into the graph a capturing stream records (its replays count it).
void count(cudaStream_t stream, const RuntimeCounts& c) {
  if (capturing(stream)) stream->graph->copies = stream->graph->copies + c;
  else counters::add(Backend::emu, c);
}

// A synchronisation of a capturing stream: CUDA refuses it and invalidates the capture.
cudaError_t refuse_in_capture(cudaStream_t stream) {
  stream->capture = cudaStreamCaptureStatusInvalidated;
  return detail::record_error(cudaErrorStreamCaptureUnsupported);
}

// Queues, records or runs `work` (see detail::submit); `release`: the memory it frees.
cudaError_t submit_item(cudaStream_t stream, detail::Work work, void* release) {
  Queue& q = queue();
  if (stream && stream->capture == cudaStreamCaptureStatusInvalidated)
    return detail::record_error(cudaErrorStreamCaptureInvalidated);
  if (capturing(stream)) {
    std::lock_guard lock(q.mutex);
    stream->graph->work.push_back(std::move(work));
    return cudaSuccess;
  }
  {
    std::unique_lock lock(q.mutex);
    if (!stream && q.capturing) return detail::record_error(cudaErrorStreamCaptureImplicit);
    const std::uint64_t ticket = ++q.issued;
    if (stream) stream->last = ticket;
    q.items.push_back(Item{ticket, std::move(work), release});
    if (async_mode()) return cudaSuccess;
    // At once: after anything queued before async mode was switched off.
    lock.unlock();
    run_to(ticket);
  }
  return cudaSuccess;
}

}  // namespace

bool async_mode() { return detail::env_switch(g_async, "HALFWAY_EMU_ASYNC"); }
void set_async_mode(bool on) {
  if (!on) detail::drain(nullptr);  // what was queued runs before the switch
  g_async.store(on ? 1 : 0);
}
void reset_async_mode() { g_async.store(-1); }

namespace detail {

cudaError_t submit(cudaStream_t stream, Work work) { return submit_item(stream, std::move(work), nullptr); }

cudaError_t release_after_queue(void* p) {
  return submit_item(nullptr, [p] { std::free(p); }, p);
}

cudaError_t drain(cudaStream_t stream) {
  if (capturing(stream)) return refuse_in_capture(stream);
  Queue& q = queue();
  std::uint64_t target;
  {
    std::lock_guard lock(q.mutex);
    if (!stream && q.capturing) return record_error(cudaErrorStreamCaptureUnsupported);
    target = stream ? stream->last : q.issued;
  }
  run_to(target);
  return cudaSuccess;
}

}  // namespace detail

// ---- synchronisation, streams, events --------------------------------------------------

cudaError_t cudaDeviceSynchronize() {
  counters::wait(Backend::emu);
  return detail::drain(nullptr);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (!stream) return detail::record_error(cudaErrorInvalidValue);
  *stream = new CUstream_st{};
  (*stream)->flags = flags;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return detail::record_error(cudaErrorInvalidResourceHandle);
  if (capturing(stream)) {
    std::lock_guard lock(queue().mutex);
    --queue().capturing;
  }
  delete stream;  // its queued work needs nothing from it
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  counters::wait(Backend::emu);
  return detail::drain(stream);
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t event, unsigned) {
  // One queue in issue order: the work after this already runs after the event's record.
  return event ? cudaSuccess : detail::record_error(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  if (!event) return detail::record_error(cudaErrorInvalidValue);
  *event = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event) return detail::record_error(cudaErrorInvalidResourceHandle);
  auto state = std::make_shared<EventState>();
  if (!capturing(stream)) {
    event->state = state;
    event->recorded = true;
  }
  if (cudaError_t e = detail::submit(stream, [state] {
        state->when = std::chrono::steady_clock::now();
        state->done = true;
      });
      e != cudaSuccess)
    return e;
  if (!capturing(stream)) {
    std::lock_guard lock(queue().mutex);
    event->ticket = queue().issued;
  }
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event) return detail::record_error(cudaErrorInvalidResourceHandle);
  counters::wait(Backend::emu);
  if (event->recorded && !event->state->done) run_to(event->ticket);
  return cudaSuccess;
}
// Not ready while the record waits in the queue; asking lets the device get there, so a
// loop that polls finishes (the GPU would, too).
cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (!event) return detail::record_error(cudaErrorInvalidResourceHandle);
  if (!event->recorded || event->state->done) return cudaSuccess;
  run_to(event->ticket);
  return cudaErrorNotReady;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return detail::record_error(cudaErrorInvalidValue);
  if (!start || !end || !start->recorded || !end->recorded)
    return detail::record_error(cudaErrorInvalidResourceHandle);
  if (!start->state->done || !end->state->done) return detail::record_error(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(end->state->when - start->state->when).count();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!event) return detail::record_error(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

// ---- copies and memsets ----------------------------------------------------------------

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  if (!valid_kind(kind)) return detail::record_error(cudaErrorInvalidMemcpyDirection);
  if (bytes && (!dst || !src)) return detail::record_error(cudaErrorInvalidValue);
  if (!bytes) return cudaSuccess;
  const cudaMemcpyKind resolved = resolve(kind, dst, src);
  // CUDA's cudaMemcpy waits for the legacy stream unless it copies within the device.
  count(nullptr, copy_counts(resolved, bytes, resolved != cudaMemcpyDeviceToDevice));
  switch (resolved) {
    case cudaMemcpyHostToDevice:
      // From pageable memory the host may reuse its buffer at once; from pinned memory
      // the call returns when the copy is done.
      if (!is_pinned(src)) return detail::submit(nullptr, staged_copy_work(dst, src, bytes));
      break;
    case cudaMemcpyDeviceToDevice: return detail::submit(nullptr, copy_work(dst, src, bytes));
    default: break;
  }
  if (cudaError_t e = detail::drain(nullptr); e != cudaSuccess) return e;
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (!valid_kind(kind)) return detail::record_error(cudaErrorInvalidMemcpyDirection);
  if (bytes && (!dst || !src)) return detail::record_error(cudaErrorInvalidValue);
  if (!bytes) return cudaSuccess;
  const cudaMemcpyKind resolved = resolve(kind, dst, src);
  // Pageable host memory may make the driver stage the copy synchronously: counted as a wait.
  const bool pageable = (resolved == cudaMemcpyHostToDevice && !is_pinned(src)) ||
                        (resolved == cudaMemcpyDeviceToHost && !is_pinned(dst));
  // A captured copy reads its source when the graph runs. One into pageable host memory
  // returns with the data there, a wait that a capture cannot record (CUDA refuses it).
  if (capturing(stream)) {
    if (resolved == cudaMemcpyDeviceToHost && !is_pinned(dst)) return refuse_in_capture(stream);
    count(stream, copy_counts(resolved, bytes, pageable));
    return detail::submit(stream, copy_work(dst, src, bytes));
  }
  count(stream, copy_counts(resolved, bytes, pageable));
  switch (resolved) {
    case cudaMemcpyHostToDevice:
      return detail::submit(stream, is_pinned(src) ? copy_work(dst, src, bytes) : staged_copy_work(dst, src, bytes));
    case cudaMemcpyDeviceToDevice: return detail::submit(stream, copy_work(dst, src, bytes));
    case cudaMemcpyDeviceToHost:
      if (is_pinned(dst)) return detail::submit(stream, copy_work(dst, src, bytes));
      break;  // into pageable memory the call returns when the copy is done
    default: break;
  }
  if (cudaError_t e = detail::drain(stream); e != cudaSuccess) return e;
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy2D(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                         std::size_t height, cudaMemcpyKind kind) {
  if (!valid_kind(kind)) return detail::record_error(cudaErrorInvalidMemcpyDirection);
  if (width > dpitch || width > spitch) return detail::record_error(cudaErrorInvalidPitchValue);
  const cudaMemcpyKind resolved = resolve(kind, dst, src);
  count(nullptr, copy_counts(resolved, width * height, resolved != cudaMemcpyDeviceToDevice));
  if (cudaError_t e = detail::drain(nullptr); e != cudaSuccess) return e;
  for (std::size_t r = 0; r < height; ++r)
    std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream) {
  if (bytes && !dst) return detail::record_error(cudaErrorInvalidValue);
  if (!bytes) return cudaSuccess;
  RuntimeCounts c;
  c.memsets = 1;
  count(stream, c);
  return detail::submit(stream, [dst, value, bytes] { std::memset(dst, value, bytes); });
}
cudaError_t cudaMemset(void* dst, int value, std::size_t bytes) { return cudaMemsetAsync(dst, value, bytes, nullptr); }

namespace detail {
cudaError_t copy_to_symbol(void* dst, const void* src, std::size_t bytes) {
  if (bytes && (!dst || !src)) return record_error(cudaErrorInvalidValue);
  if (bytes) count(nullptr, copy_counts(cudaMemcpyHostToDevice, bytes, true));
  return bytes ? submit(nullptr, staged_copy_work(dst, src, bytes)) : cudaSuccess;
}
cudaError_t copy_from_symbol(void* dst, const void* src, std::size_t bytes) {
  if (bytes && (!dst || !src)) return record_error(cudaErrorInvalidValue);
  if (bytes) count(nullptr, copy_counts(cudaMemcpyDeviceToHost, bytes, true));
  if (cudaError_t e = drain(nullptr); e != cudaSuccess) return e;
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
}  // namespace detail

// ---- graphs ----------------------------------------------------------------------------

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  // The legacy default stream cannot be captured.
  if (!stream) return detail::record_error(cudaErrorStreamCaptureUnsupported);
  if (stream->capture != cudaStreamCaptureStatusNone) return detail::record_error(cudaErrorIllegalState);
  std::lock_guard lock(queue().mutex);
  stream->capture = cudaStreamCaptureStatusActive;
  stream->graph = std::make_unique<CUgraph_st>();
  ++queue().capturing;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  if (!stream || !graph) return detail::record_error(cudaErrorInvalidValue);
  if (stream->capture == cudaStreamCaptureStatusNone) return detail::record_error(cudaErrorIllegalState);
  const bool ok = stream->capture == cudaStreamCaptureStatusActive;
  {
    std::lock_guard lock(queue().mutex);
    stream->capture = cudaStreamCaptureStatusNone;
    --queue().capturing;
  }
  std::unique_ptr<CUgraph_st> g = std::move(stream->graph);
  *graph = ok ? g.release() : nullptr;
  return ok ? cudaSuccess : detail::record_error(cudaErrorStreamCaptureInvalidated);
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  if (!status) return detail::record_error(cudaErrorInvalidValue);
  *status = stream ? stream->capture : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!exec || !graph) return detail::record_error(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->work, graph->copies};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (!exec) return detail::record_error(cudaErrorInvalidValue);
  counters::graph_launch(Backend::emu);
  count(stream, exec->copies);
  for (const detail::Work& w : exec->work)
    if (cudaError_t e = detail::submit(stream, w); e != cudaSuccess) return e;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

}  // namespace halfway::simt
