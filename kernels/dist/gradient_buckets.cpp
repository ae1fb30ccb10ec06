#include "kernels/dist/gradient_buckets.hpp"

#include <chrono>
#include <cstdio>

#include "common/error.hpp"

namespace halfway::dist {
namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
std::int64_t element_bytes(const amp::GradBuffer& g) { return g.dtype == DType::f32 ? 4 : 2; }
}  // namespace

amp::GradBuffer slice(const amp::GradBuffer& g, Bucket b) {
  HALFWAY_EXPECT(0 <= b.begin && b.begin <= b.end && b.end <= g.count,
                 "a bucket inside the " + std::to_string(g.count) + " gradients",
                 "[" + std::to_string(b.begin) + ", " + std::to_string(b.end) + ")");
  return {g.backend, g.dtype, static_cast<char*>(g.data) + b.begin * element_bytes(g), b.end - b.begin};
}

GradientBuckets::GradientBuckets(std::int64_t bucket_bytes, Start start)
    : bucket_bytes_(bucket_bytes), start_(std::move(start)) {
  HALFWAY_EXPECT(bucket_bytes > 0, "buckets of more than 0 bytes", std::to_string(bucket_bytes));
}

void GradientBuckets::note(const char* kind, int index, Bucket range, double t0, double t1) {
  if (tracing_) trace_.push_back({step_, kind, index, range, t0, t1});
}

void GradientBuckets::start(const amp::GradBuffer& grads, Bucket b) {
  const double t0 = now();
  flight_.push_back({b, start_(slice(grads, b)), t0, false});
  last_.push_back(b);
  started_from_ = b.begin;
}

void GradientBuckets::poll() {
  for (std::size_t i = 0; i < flight_.size(); ++i) {
    InFlight& f = flight_[i];
    if (f.seen_done || !f.pending->done()) continue;
    f.seen_done = true;
    note("bucket", int(i), f.range, f.t0, now());
  }
}

void GradientBuckets::final_from(const amp::GradBuffer& grads, std::int64_t from) {
  HALFWAY_EXPECT(0 <= from && from <= grads.count, "a final offset within the gradients", std::to_string(from));
  const double t = now();
  if (from == grads.count) {  // a backward begins
    HALFWAY_EXPECT(flight_.empty(), "every bucket of the last step finished before the next backward",
                   std::to_string(flight_.size()) + " in flight");
    in_backward_ = true;
    started_from_ = final_from_ = grads.count;
    modules_ = 0;
    last_.clear();
    ++step_;
    last_final_t_ = t;
    return;
  }
  HALFWAY_EXPECT(in_backward_ && from <= final_from_, "final offsets that fall during one backward",
                 std::to_string(from) + " after " + std::to_string(final_from_));
  note("backward", modules_++, {from, final_from_}, last_final_t_, t);
  final_from_ = from;
  last_final_t_ = t;
  if ((started_from_ - from) * element_bytes(grads) >= bucket_bytes_) start(grads, {from, started_from_});
  poll();
}

void GradientBuckets::finish(const amp::GradBuffer& grads) {
  if (!in_backward_) {  // no hook this step (a fault injected after the backward): one bucket
    started_from_ = grads.count;
    last_.clear();
    ++step_;
  }
  in_backward_ = false;
  const double t0 = now();
  if (started_from_ > 0) start(grads, {0, started_from_});
  for (std::size_t i = 0; i < flight_.size(); ++i) {
    InFlight& f = flight_[i];
    f.pending->wait();
    if (!f.seen_done) note("bucket", int(i), f.range, f.t0, now());
  }
  note("wait", 0, {0, grads.count}, t0, now());
  flight_.clear();
}

void write_trace_csv(const std::string& path, int rank, const std::vector<TraceEvent>& events) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error("cannot write the trace " + path);
  std::fprintf(f, "rank,step,kind,index,begin,end,t0_us,t1_us\n");
  for (const TraceEvent& e : events)
    std::fprintf(f, "%d,%lld,%s,%d,%lld,%lld,%.1f,%.1f\n", rank, static_cast<long long>(e.step), e.kind.c_str(), e.index,
                 static_cast<long long>(e.range.begin), static_cast<long long>(e.range.end), e.t0 * 1e6, e.t1 * 1e6);
  if (std::fclose(f) != 0) throw Error("cannot write the trace " + path);
}

}  // namespace halfway::dist
