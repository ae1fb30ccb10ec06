// The runtime's counters (runtime_counters.hpp): one relaxed atomic per field and backend.
#include "common/runtime_counters.hpp"

#include <atomic>

namespace halfway {

namespace {
using Field = unsigned long long RuntimeCounts::*;
constexpr Field kFields[] = {&RuntimeCounts::launches, &RuntimeCounts::graph_launches, &RuntimeCounts::memsets,
                             &RuntimeCounts::h2d,      &RuntimeCounts::h2d_bytes,      &RuntimeCounts::d2h,
                             &RuntimeCounts::d2h_bytes, &RuntimeCounts::d2d,           &RuntimeCounts::d2d_bytes,
                             &RuntimeCounts::waits,    &RuntimeCounts::allocations};
constexpr int kFieldCount = sizeof kFields / sizeof kFields[0];
static_assert(sizeof(RuntimeCounts) == kFieldCount * sizeof(unsigned long long), "every field is in kFields");

constexpr int index_of(Field f) {
  for (int i = 0; i < kFieldCount; ++i)
    if (kFields[i] == f) return i;
  return -1;
}

std::atomic<unsigned long long>& counter(Backend where, Field f) {
  static std::atomic<unsigned long long> all[3][kFieldCount];
  return all[int(where)][index_of(f)];
}
void bump(Backend where, Field f, unsigned long long n = 1) { counter(where, f).fetch_add(n, std::memory_order_relaxed); }

template <class Op>
RuntimeCounts combine(RuntimeCounts a, const RuntimeCounts& b, Op op) {
  for (Field f : kFields) a.*f = op(a.*f, b.*f);
  return a;
}
}  // namespace

RuntimeCounts RuntimeCounts::operator-(const RuntimeCounts& earlier) const {
  return combine(*this, earlier, [](auto x, auto y) { return x - y; });
}
RuntimeCounts RuntimeCounts::operator+(const RuntimeCounts& other) const {
  return combine(*this, other, [](auto x, auto y) { return x + y; });
}

RuntimeCounts runtime_counts(Backend where) {
  RuntimeCounts c;
  for (Field f : kFields) c.*f = counter(where, f).load(std::memory_order_relaxed);
  return c;
}

std::string to_string(const RuntimeCounts& c) {
  const auto n = [](unsigned long long x) { return std::to_string(x); };
  return "launches " + n(c.launches) + ", h2d " + n(c.h2d) + " (" + n(c.h2d_bytes) + " B), d2h " + n(c.d2h) + " (" +
         n(c.d2h_bytes) + " B), d2d " + n(c.d2d) + " (" + n(c.d2d_bytes) + " B), waits " + n(c.waits) +
         ", allocations " + n(c.allocations) + ", memsets " + n(c.memsets) + ", graph launches " + n(c.graph_launches);
}

namespace counters {
void launch(Backend where) { bump(where, &RuntimeCounts::launches); }
void graph_launch(Backend where) { bump(where, &RuntimeCounts::graph_launches); }
void memset(Backend where) { bump(where, &RuntimeCounts::memsets); }
void copy(Backend where, Copy direction, std::size_t bytes) {
  const bool in = direction == Copy::to_device, out = direction == Copy::to_host;
  bump(where, in ? &RuntimeCounts::h2d : out ? &RuntimeCounts::d2h : &RuntimeCounts::d2d);
  bump(where, in ? &RuntimeCounts::h2d_bytes : out ? &RuntimeCounts::d2h_bytes : &RuntimeCounts::d2d_bytes, bytes);
}
void wait(Backend where) { bump(where, &RuntimeCounts::waits); }
void allocation(Backend where) { bump(where, &RuntimeCounts::allocations); }
void add(Backend where, const RuntimeCounts& c) {
  for (Field f : kFields) bump(where, f, c.*f);
}
}  // namespace counters

}  // namespace halfway
