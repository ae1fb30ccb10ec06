// The SIMT scheduler: runs a kernel launch on the calling host thread, one block at a time,
// each CUDA thread of the block as a fiber.
//
// Design
// - Fibers. Fiber i of a pool (fiber.hpp) runs thread i of every block. Its entry function
//   loops: run the kernel body for the thread it is given, mark it exited, hand over.
//   So a thread's body runs exactly once per block, and stacks are reused without being
//   re-created.
// - Ready queue. The host pops a thread and switches to its fiber. When that thread
//   blocks (a barrier or a warp operation) or exits, it pops the next ready thread itself
//   and switches straight to it (one switch per suspension, no allocation); only when
//   the queue is empty does control return to the host.
// - Barriers. A thread at __syncthreads records where it waits and hands over. When the ready
//   queue is empty, every live thread is blocked, and the pass ends: if all of them wait at
//   one __syncthreads, the barrier releases (exited threads do not count, as on Volta and
//   later); otherwise the block can never progress and that is reported as a KernelError
//   (divergent barrier, a warp operation waiting on an exited lane or on a lane at a block
//   barrier), naming the kernel, the lines and the threads. The emulator never hangs on a
//   kernel that blocks forever; a kernel that loops forever without blocking still hangs.
// - Warp collectives. A lane arriving at a warp operation joins the pending group of its
//   warp with the same mask (or opens one); the last lane to arrive computes every lane's
//   result (WarpOpKind::complete) and wakes the others. Mismatched masks or operations are
//   reported at once.
// - Order. The queue is filled in forward, reverse or random order at the start and after
//   each barrier; blocks run in the same order. A correct kernel does not care.
// - Errors. An exception escaping a kernel thread (or raised by the emulator in it) marks
//   the launch as failing. The scheduler then resumes every suspended thread once more so
//   that its wait throws an internal Unwind, which unwinds the kernel's stack frames (their
//   destructors run) back to the fiber loop. Then the original exception is rethrown from
//   the launch, unchanged, and the pool is ready for the next launch.
// - Race checking (TSan builds): each fiber is a TSan fiber and switches imply no order.
//   Host writes before a launch happen before every thread's start; every thread's end
//   happens before the host continues (and before the next block starts, because static
//   __shared__ arrays are reused by the next block); barrier arrival releases and barrier
//   departure acquires a barrier object; __syncwarp does the same on a per-warp object.
//   This file is compiled without TSan instrumentation and hides the libc calls it makes
//   (TsanIgnore), so its bookkeeping is invisible to the race checker.
#include "common/emu/scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/emu/fiber.hpp"
#include "common/emu/runtime.hpp"

#if defined(__SANITIZE_THREAD__) || defined(HALFWAY_EMU_TSAN_ANNOTATIONS)
#include <sanitizer/tsan_interface.h>
#define HALFWAY_EMU_TSAN_RELEASE(p) __tsan_release(p)
#define HALFWAY_EMU_TSAN_ACQUIRE(p) __tsan_acquire(p)
// TSan's dynamic annotations (exported by libtsan).
extern "C" void AnnotateIgnoreReadsBegin(char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(char* file, int line);
extern "C" void AnnotateIgnoreWritesBegin(char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(char* file, int line);
namespace {
// This file is not instrumented, but libc calls made from it (memmove in a vector,
// memset, memcmp in a warp op's completion) are still seen by TSan's interceptors and
// would look like races between fibers. Inside a TsanIgnore scope the current fiber's
// accesses are not recorded (the state is per fiber, so it may span a switch).
struct TsanIgnore {
  TsanIgnore() {
    AnnotateIgnoreReadsBegin(const_cast<char*>(__FILE__), __LINE__);
    AnnotateIgnoreWritesBegin(const_cast<char*>(__FILE__), __LINE__);
  }
  ~TsanIgnore() {
    AnnotateIgnoreWritesEnd(const_cast<char*>(__FILE__), __LINE__);
    AnnotateIgnoreReadsEnd(const_cast<char*>(__FILE__), __LINE__);
  }
  TsanIgnore(const TsanIgnore&) = delete;
  TsanIgnore& operator=(const TsanIgnore&) = delete;
};
}  // namespace
#else
#define HALFWAY_EMU_TSAN_RELEASE(p) ((void)(p))
#define HALFWAY_EMU_TSAN_ACQUIRE(p) ((void)(p))
namespace {
struct TsanIgnore {
  TsanIgnore() {}  // user-provided: no unused-variable warnings at the call sites
};
}  // namespace
#endif

// Static __shared__ variables live in this section (qualifiers.hpp); the linker defines
// its ends. Weak: a program without any static shared array has no such section.
extern "C" __attribute__((weak)) unsigned char __start_halfway_emu_shared[];
extern "C" __attribute__((weak)) unsigned char __stop_halfway_emu_shared[];

namespace halfway::simt {
namespace detail {
namespace {

enum class State : unsigned char { ready, barrier, warp, done };

struct Thread {
  ThreadInfo info;
  State state;
  bool started;
  int pred;
  const char* file;  // where it waits
  int line;
  const char* what;
};

struct WarpGroup {
  const WarpOpKind* kind;
  unsigned mask;
  unsigned arrived;
  const char* file;
  int line;
  void* data[32];
};

struct Warp {
  unsigned exists = 0;  // lanes present in the block
  unsigned exited = 0;
  unsigned exited_before_phase = 0;  // exited before the last barrier released (__activemask)
  std::vector<WarpGroup> groups;  // pending collectives, disjoint masks
};

struct Unwind {};  // not a std::exception: only the fiber loop catches it

struct Rng {
  std::uint64_t state = 1;
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

struct OrderState {
  std::mutex mutex;
  bool explicit_set = false;
  bool loaded = false;
  OrderSetting setting;
  Rng rng;
};
OrderState& order_state() {
  static OrderState* s = new OrderState;
  return *s;
}

std::string ranges(const std::vector<unsigned>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(ids[i]);
    if (j > i) out += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

std::string mask_lanes(unsigned mask) {
  std::vector<unsigned> ids;
  for (unsigned l = 0; l < 32; ++l)
    if (mask >> l & 1u) ids.push_back(l);
  return (ids.size() == 1 ? "lane " : "lanes ") + ranges(ids);
}

// Two source positions are the same barrier when the lines match and the files do (the
// same __FILE__ may or may not be one string literal).
bool same_site(const char* f1, int l1, const char* f2, int l2) {
  return l1 == l2 && (f1 == f2 || (f1 && f2 && std::strcmp(f1, f2) == 0));
}

std::string where(const char* file, int line) { return std::string(file) + ":" + std::to_string(line); }

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string dim(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

class Scheduler {
 public:
  std::mutex launch_mutex;
  FiberPool pool;

  const LaunchSpec* spec = nullptr;
  BlockInfo block{};
  std::vector<Thread> threads;
  std::vector<Warp> warps;
  std::vector<unsigned> queue;
  std::size_t head = 0;
  unsigned n_threads = 0;
  unsigned n_done = 0;
  unsigned n_warp_waiting = 0;
  int barrier_result = 0;
  Thread* current = nullptr;
  bool aborting = false;
  std::exception_ptr error;
  OrderSetting order;
  Rng* rng = nullptr;
  std::vector<unsigned> perm;

  // Addresses TSan uses as synchronisation objects.
  char start_sync = 0, end_sync = 0, barrier_sync = 0;
  char warp_sync[32] = {};

  std::string context() const {
    return "kernel '" + std::string(spec->kernel_name) + "' (launched at " + where(spec->file, spec->line) +
           "), block " + dim(block.block_idx);
  }
  std::string thread_name(const Thread& t) const {
    return "thread " + std::to_string(t.info.linear) + " (threadIdx " + dim(t.info.tid) + ", warp " +
           std::to_string(t.info.warp) + " lane " + std::to_string(t.info.lane) + ")";
  }

  void fail(std::exception_ptr e) {
    if (!error) error = std::move(e);
    aborting = true;
  }

  void shuffle(std::vector<unsigned>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng->next() % i]);
  }

  // Pushes the given threads (ascending indices) in the configured order.
  void push_in_order(std::vector<unsigned>& ids) {
    if (order.order == ThreadOrder::reverse) std::reverse(ids.begin(), ids.end());
    else if (order.order == ThreadOrder::random) shuffle(ids);
    queue.insert(queue.end(), ids.begin(), ids.end());
  }

  Thread* pop_ready() {
    while (head < queue.size()) {
      Thread& t = threads[queue[head++]];
      if (t.state == State::ready) return &t;
    }
    return nullptr;
  }

  // The running fiber `me` stops: hand over to the next ready thread, or to the host when
  // there is none (the pass ends) or the launch is failing.
  void dispatch(Fiber& me) {
    Thread* next = aborting ? nullptr : pop_ready();
    if (next) {
      current = next;
      t_thread = &next->info;
      pool.switch_to(&me, &pool[next->info.linear]);
    } else {
      pool.switch_to(&me, nullptr);
    }
  }

  // True when the launch is being abandoned and the caller should return at once: it
  // throws Unwind, except inside a destructor run by unwinding (throwing there would
  // terminate the program).
  bool abandoning() const {
    if (!aborting) return false;
    if (std::uncaught_exceptions() > 0) return true;
    throw Unwind{};
  }

  void wait_here(Thread& t) {
    dispatch(pool[t.info.linear]);
    (void)abandoning();
  }

  static void fiber_main(void* arg);
  void run_block();
  void end_of_pass();
  void abandon();
  [[noreturn]] void report_stuck();
};

Scheduler& sched() {
  static Scheduler* s = new Scheduler;  // never destroyed: its fibers live as long as the process
  return *s;
}

void Scheduler::fiber_main(void* arg) {
  Scheduler& s = *static_cast<Scheduler*>(arg);
  Fiber& me = s.pool[s.current->info.linear];
  for (;;) {
    Thread& t = *s.current;
    t.started = true;
    HALFWAY_EMU_TSAN_ACQUIRE(&s.start_sync);
    try {
      s.spec->body(s.spec->body_ctx);
    } catch (const Unwind&) {
    } catch (...) {
      s.fail(std::current_exception());
    }
    HALFWAY_EMU_TSAN_RELEASE(&s.end_sync);
    TsanIgnore ignore;
    t.state = State::done;
    ++s.n_done;
    s.warps[t.info.warp].exited |= 1u << t.info.lane;
    s.dispatch(me);
  }
}

void Scheduler::run_block() {
  const dim3 bd = block.block_dim;
  unsigned i = 0;
  for (unsigned z = 0; z < bd.z; ++z)
    for (unsigned y = 0; y < bd.y; ++y)
      for (unsigned x = 0; x < bd.x; ++x, ++i) {
        Thread& t = threads[i];
        t.info = ThreadInfo{uint3{x, y, z}, i, i % 32, i / 32};
        t.state = State::ready;
        t.started = false;
        t.pred = 0;
        t.file = nullptr;
        t.line = 0;
        t.what = nullptr;
      }
  for (Warp& w : warps) {
    w.exited = 0;
    w.exited_before_phase = 0;
    w.groups.clear();
  }
  n_done = 0;
  n_warp_waiting = 0;
  queue.clear();
  head = 0;
  perm.resize(n_threads);
  for (unsigned k = 0; k < n_threads; ++k) perm[k] = k;
  push_in_order(perm);

  for (;;) {
    if (Thread* t = pop_ready()) {
      current = t;
      t_thread = &t->info;
      pool.switch_to(nullptr, &pool[t->info.linear]);  // back when the queue is empty
      if (aborting) {
        abandon();
        std::rethrow_exception(error);
      }
      continue;
    }
    if (n_done == n_threads) break;
    end_of_pass();
  }
  current = nullptr;
  t_thread = nullptr;
}

// Every live thread is blocked. Release the barrier if they all wait at the same one.
void Scheduler::end_of_pass() {
  const Thread* first = nullptr;
  bool same = true;
  for (const Thread& t : threads) {
    if (t.state == State::warp) report_stuck();
    if (t.state != State::barrier) continue;
    if (!first) first = &t;
    else if (!same_site(t.file, t.line, first->file, first->line)) same = false;
  }
  if (!same) report_stuck();
  int count = 0;
  perm.clear();
  for (Thread& t : threads)
    if (t.state == State::barrier) {
      count += t.pred != 0;
      t.state = State::ready;
      perm.push_back(t.info.linear);
    }
  barrier_result = count;
  for (Warp& w : warps) w.exited_before_phase = w.exited;
  queue.clear();
  head = 0;
  push_in_order(perm);
}

[[noreturn]] void Scheduler::report_stuck() {
  std::ostringstream msg;
  msg << context() << ": ";
  // A pending warp collective first: name who is there and what each missing lane does.
  for (const Warp& w : warps) {
    if (w.groups.empty()) continue;
    const WarpGroup& g = w.groups.front();
    const unsigned warp = static_cast<unsigned>(&w - warps.data());
    msg << "deadlock: " << g.kind->name << " at " << where(g.file, g.line) << " (mask " << hex(g.mask) << ") in warp "
        << warp << " has " << mask_lanes(g.arrived) << " waiting for";
    bool first = true;
    unsigned missing = g.mask & ~g.arrived;
    while (missing) {
      // Group the missing lanes that are in the same situation.
      const unsigned l0 = static_cast<unsigned>(__builtin_ctz(missing));
      const Thread& t0 = threads[warp * 32 + l0];
      unsigned same_mask = 0;
      for (unsigned l = l0; l < 32; ++l) {
        if (!(missing >> l & 1u)) continue;
        const Thread& t = threads[warp * 32 + l];
        if (t.state == t0.state && same_site(t.file, t.line, t0.file, t0.line)) same_mask |= 1u << l;
      }
      missing &= ~same_mask;
      msg << (first ? " " : "; ") << mask_lanes(same_mask);
      first = false;
      if (t0.state == State::done) msg << ", which exited";
      else if (t0.state == State::barrier) msg << ", which wait at __syncthreads at " << where(t0.file, t0.line);
      else msg << ", which wait at " << t0.what << " at " << where(t0.file, t0.line);
    }
    msg << " (every lane named in the mask must reach the same warp operation)";
    fail(std::make_exception_ptr(KernelError(msg.str())));
    abandon();
    std::rethrow_exception(error);
  }
  // Otherwise threads wait at different __syncthreads.
  msg << "divergent __syncthreads:";
  std::vector<const Thread*> sites;
  for (const Thread& t : threads) {
    if (t.state != State::barrier) continue;
    bool known = false;
    for (const Thread* s : sites) known = known || same_site(s->file, s->line, t.file, t.line);
    if (!known) sites.push_back(&t);
  }
  for (std::size_t k = 0; k < sites.size(); ++k) {
    std::vector<unsigned> ids;
    for (const Thread& t : threads)
      if (t.state == State::barrier && same_site(t.file, t.line, sites[k]->file, sites[k]->line))
        ids.push_back(t.info.linear);
    msg << (k ? "; " : " ") << (ids.size() == 1 ? "thread " : "threads ") << ranges(ids) << " wait at "
        << where(sites[k]->file, sites[k]->line);
  }
  msg << " (every live thread of the block must reach the same __syncthreads)";
  fail(std::make_exception_ptr(KernelError(msg.str())));
  abandon();
  std::rethrow_exception(error);
}

// Unwinds every suspended thread of the block so the pool can be reused.
void Scheduler::abandon() {
  aborting = true;
  for (Thread& t : threads) {
    if (!t.started || t.state == State::done) continue;
    t.state = State::ready;
    current = &t;
    t_thread = &t.info;
    pool.switch_to(nullptr, &pool[t.info.linear]);
  }
  current = nullptr;
  t_thread = nullptr;
  HALFWAY_EMU_TSAN_ACQUIRE(&end_sync);  // the host reads what the threads wrote (the exception)
}

const WarpOpKind kSyncwarp{"__syncwarp", [](void* const*, unsigned, const char*, int) {}};

}  // namespace

void outside_kernel(const char* what) {
  throw KernelError(std::string("SIMT emulator: ") + what + " used outside a kernel launch");
}

void kernel_fail(const std::string& what, const char* file, int line) {
  Scheduler& s = sched();
  if (!s.current) throw KernelError(what + " at " + where(file, line) + " (outside a kernel launch)");
  throw KernelError(s.context() + ", " + s.thread_name(*s.current) + ": " + what + " at " + where(file, line));
}

int syncthreads(const char* file, int line, int pred) {
  TsanIgnore ignore;
  Scheduler& s = sched();
  if (!s.current) outside_kernel("__syncthreads");
  if (s.abandoning()) return 0;
  Thread& t = *s.current;
  t.state = State::barrier;
  t.file = file;
  t.line = line;
  t.pred = pred;
  HALFWAY_EMU_TSAN_RELEASE(&s.barrier_sync);
  s.wait_here(t);
  HALFWAY_EMU_TSAN_ACQUIRE(&s.barrier_sync);
  return s.barrier_result;
}

void warp_collective(const WarpOpKind& kind, unsigned mask, void* my_data, const std::source_location& loc) {
  TsanIgnore ignore;
  Scheduler& s = sched();
  if (!s.current) outside_kernel(kind.name);
  if (s.abandoning()) return;
  Thread& t = *s.current;
  const unsigned lane = t.info.lane;
  Warp& w = s.warps[t.info.warp];
  const char* file = loc.file_name();
  const int line = static_cast<int>(loc.line());
  if (!(mask >> lane & 1u))
    kernel_fail(std::string(kind.name) + " with mask " + hex(mask) + ", which does not name the calling lane " +
                    std::to_string(lane),
                file, line);
  WarpGroup* g = nullptr;
  for (WarpGroup& c : w.groups) {
    if (c.mask == mask) {
      g = &c;
      break;
    }
    if (c.mask & mask)
      kernel_fail(std::string(kind.name) + " with mask " + hex(mask) + " while " + mask_lanes(c.arrived) +
                      " of the warp wait at " + c.kind->name + " at " + where(c.file, c.line) + " with mask " +
                      hex(c.mask) + " (the masks overlap but differ)",
                  file, line);
  }
  if (!g) {
    if (mask & ~w.exists)
      kernel_fail(std::string(kind.name) + " with mask " + hex(mask) + " names " + mask_lanes(mask & ~w.exists) +
                      ", which do not exist (the block has " + std::to_string(s.n_threads) + " threads)",
                  file, line);
    if (mask & w.exited)
      kernel_fail(std::string(kind.name) + " with mask " + hex(mask) + " names " + mask_lanes(mask & w.exited) +
                      ", which exited (every lane named in the mask must reach the same warp operation)",
                  file, line);
    w.groups.push_back(WarpGroup{&kind, mask, 0, file, line, {}});
    g = &w.groups.back();
  } else if (g->kind != &kind) {
    kernel_fail(std::string("divergent warp operations: ") + kind.name + " here, while " + mask_lanes(g->arrived) +
                    " of the warp wait at " + g->kind->name + " at " + where(g->file, g->line) + " with the same mask " +
                    hex(mask),
                file, line);
  }
  g->data[lane] = my_data;
  g->arrived |= 1u << lane;
  if (g->arrived == mask) {
    WarpGroup done = *g;
    *g = w.groups.back();
    w.groups.pop_back();
    // Wake the others before completing, so that an error thrown by complete() still
    // finds them suspended (abandon() unwinds them).
    std::vector<unsigned>& ids = s.perm;
    ids.clear();
    const unsigned base = t.info.warp * 32;
    for (unsigned l = 0; l < 32; ++l)
      if ((mask >> l & 1u) && l != lane) {
        s.threads[base + l].state = State::ready;
        ids.push_back(base + l);
      }
    s.n_warp_waiting -= static_cast<unsigned>(ids.size());
    s.push_in_order(ids);
    done.kind->complete(done.data, mask, file, line);
    return;
  }
  t.state = State::warp;
  t.file = file;
  t.line = line;
  t.what = kind.name;
  ++s.n_warp_waiting;
  s.wait_here(t);
}

void syncwarp(unsigned mask, const std::source_location& loc) {
  Scheduler& s = sched();
  if (!s.current) outside_kernel("__syncwarp");
  char* obj = &s.warp_sync[s.current->info.warp];
  HALFWAY_EMU_TSAN_RELEASE(obj);
  warp_collective(kSyncwarp, mask, nullptr, loc);
  HALFWAY_EMU_TSAN_ACQUIRE(obj);
}

unsigned active_mask() {
  Scheduler& s = sched();
  if (!s.current) outside_kernel("__activemask");
  const Warp& w = s.warps[s.current->info.warp];
  return w.exists & ~w.exited_before_phase;
}

}  // namespace detail

namespace nvcuda::wmma::detail {
unsigned warp_lanes_present() {
  auto& s = ::halfway::simt::detail::sched();
  if (!s.current) ::halfway::simt::detail::outside_kernel("wmma");
  return s.warps[s.current->info.warp].exists;
}
}  // namespace nvcuda::wmma::detail

namespace detail {
namespace {

// Checks the configuration like CUDA; returns an explanation when it is invalid.
std::optional<std::pair<cudaError_t, std::string>> check_config(const LaunchSpec& spec) {
  const dim3 b = spec.block, g = spec.grid;
  const unsigned long long threads = 1ull * b.x * b.y * b.z;
  auto bad = [&](cudaError_t e, const std::string& why) {
    return std::optional<std::pair<cudaError_t, std::string>>(
        std::pair{e, "kernel '" + std::string(spec.kernel_name) + "' launched at " + where(spec.file, spec.line) +
                         ": " + why});
  };
  if (b.x == 0 || b.y == 0 || b.z == 0) return bad(cudaErrorInvalidConfiguration, "block " + dim(b) + " has a zero dimension");
  if (g.x == 0 || g.y == 0 || g.z == 0) return bad(cudaErrorInvalidConfiguration, "grid " + dim(g) + " has a zero dimension");
  if (threads > 1024)
    return bad(cudaErrorInvalidConfiguration,
               "block " + dim(b) + " has " + std::to_string(threads) + " threads; the limit is 1024");
  if (b.x > 1024 || b.y > 1024 || b.z > 64)
    return bad(cudaErrorInvalidConfiguration, "block " + dim(b) + " exceeds the limits (1024, 1024, 64)");
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    return bad(cudaErrorInvalidConfiguration, "grid " + dim(g) + " exceeds the limits (2^31-1, 65535, 65535)");
  const std::size_t limit = max_dynamic_smem(spec.kernel_id);
  if (spec.dynamic_smem > limit)
    return bad(cudaErrorInvalidValue, std::to_string(spec.dynamic_smem) + " bytes of dynamic shared memory; the limit is " +
                                          std::to_string(limit) +
                                          " (raise it with cudaFuncSetAttribute(kernel, "
                                          "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes))");
  return std::nullopt;
}

}  // namespace

bool launch_accepted(const LaunchSpec& spec) {
  if (auto bad = check_config(spec)) {
    record_launch_error(bad->first, bad->second.c_str());
    return false;
  }
  if (t_thread)
    throw KernelError("kernel '" + std::string(spec.kernel_name) + "' launched at " + where(spec.file, spec.line) +
                      " from inside a kernel: the emulator has no dynamic parallelism");
  (void)thread_order();  // a bad HALFWAY_EMU_ORDER is reported at the launch
  return true;
}

void run_launch(const LaunchSpec& spec) {
  const OrderSetting order = thread_order();  // may throw on a bad HALFWAY_EMU_ORDER
  const std::size_t static_smem = poison_shared() && __start_halfway_emu_shared
                                      ? static_cast<std::size_t>(__stop_halfway_emu_shared - __start_halfway_emu_shared)
                                      : 0;

  TsanIgnore ignore;
  Scheduler& s = sched();
  std::lock_guard lock(s.launch_mutex);
  const dim3 b = spec.block, g = spec.grid;
  const unsigned n = b.x * b.y * b.z;
  s.spec = &spec;
  s.n_threads = n;
  s.order = order;
  s.rng = &order_state().rng;
  s.aborting = false;
  s.error = nullptr;
  s.threads.resize(n);
  s.warps.resize((n + 31) / 32);
  for (unsigned w = 0; w < s.warps.size(); ++w) {
    const unsigned lanes = std::min(32u, n - w * 32);
    s.warps[w].exists = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1);
  }
  s.pool.ensure(n, &Scheduler::fiber_main, &s);
  s.pool.begin_on_host();

  // Dynamic shared memory: exactly the bytes asked for (ASan sees the end), poisoned
  // with 0xFF (a NaN in float, half and bf16) before each block.
  void* smem = nullptr;
  if (posix_memalign(&smem, 128, spec.dynamic_smem ? spec.dynamic_smem : 1) != 0)
    throw Error("SIMT emulator: out of memory for dynamic shared memory");
  struct Cleanup {
    Scheduler& s;
    void* smem;
    ~Cleanup() {
      std::free(smem);
      t_block = nullptr;
      t_thread = nullptr;
      s.current = nullptr;
      s.spec = nullptr;
      s.aborting = false;
    }
  } cleanup{s, smem};

  s.block.block_dim = b;
  s.block.grid_dim = g;
  s.block.dynamic_smem = static_cast<unsigned char*>(smem);

  const unsigned long long n_blocks = 1ull * g.x * g.y * g.z;
  std::vector<unsigned long long> blocks;
  blocks.reserve(n_blocks);
  for (unsigned long long k = 0; k < n_blocks; ++k) blocks.push_back(k);
  if (order.order == ThreadOrder::reverse) std::reverse(blocks.begin(), blocks.end());
  else if (order.order == ThreadOrder::random)
    for (std::size_t i = blocks.size(); i > 1; --i) std::swap(blocks[i - 1], blocks[s.rng->next() % i]);

  for (unsigned long long k : blocks) {
    s.block.block_idx = uint3{static_cast<unsigned>(k % g.x), static_cast<unsigned>((k / g.x) % g.y),
                              static_cast<unsigned>(k / (1ull * g.x * g.y))};
    std::memset(smem, 0xff, spec.dynamic_smem);
    // Every kernel's static shared arrays (one block runs at a time, under launch_mutex).
    if (static_smem) std::memset(__start_halfway_emu_shared, 0xff, static_smem);
    t_block = &s.block;
    // Host writes so far (and earlier blocks, via end_sync) happen before this block.
    HALFWAY_EMU_TSAN_RELEASE(&s.start_sync);
    s.run_block();
    HALFWAY_EMU_TSAN_ACQUIRE(&s.end_sync);
  }
}

}  // namespace detail

// ---- thread order ----------------------------------------------------------------------

OrderSetting parse_thread_order(std::string_view text) {
  auto bad = [&] {
    return Error("HALFWAY_EMU_ORDER: expected forward, reverse, random or random:SEED, found '" +
                 std::string(text) + "'");
  };
  if (text == "forward") return {ThreadOrder::forward, 1};
  if (text == "reverse") return {ThreadOrder::reverse, 1};
  if (text == "random") return {ThreadOrder::random, 1};
  if (text.substr(0, 7) == "random:" && text.size() > 7) {
    std::uint64_t seed = 0;
    for (char c : text.substr(7)) {
      if (c < '0' || c > '9') throw bad();
      seed = seed * 10 + static_cast<unsigned>(c - '0');
    }
    return {ThreadOrder::random, seed};
  }
  throw bad();
}

std::string to_string(const OrderSetting& s) {
  switch (s.order) {
    case ThreadOrder::forward: return "forward";
    case ThreadOrder::reverse: return "reverse";
    case ThreadOrder::random: return "random:" + std::to_string(s.seed);
  }
  return "forward";
}

OrderSetting thread_order() {
  auto& st = detail::order_state();
  std::lock_guard lock(st.mutex);
  if (!st.explicit_set && !st.loaded) {
    const char* env = std::getenv("HALFWAY_EMU_ORDER");
    st.setting = env && *env ? parse_thread_order(env) : OrderSetting{};
    st.rng.state = st.setting.seed;
    st.loaded = true;
  }
  return st.setting;
}

void set_thread_order(OrderSetting s) {
  auto& st = detail::order_state();
  std::lock_guard lock(st.mutex);
  st.setting = s;
  st.rng.state = s.seed;
  st.explicit_set = true;
}

namespace {
std::atomic<int> g_poison_shared{-1};  // -1: not read from the environment yet
}  // namespace

namespace detail {
bool env_switch(std::atomic<int>& setting, const char* name) {
  int on = setting.load();
  if (on < 0) {
    const char* env = std::getenv(name);
    const std::string_view text = env ? env : "";
    if (!text.empty() && text != "0" && text != "1")
      throw Error(std::string(name) + ": expected 1 or 0, found '" + std::string(text) + "'");
    on = text != "0";
    int unset = -1;
    setting.compare_exchange_strong(unset, on);
  }
  return on != 0;
}
}  // namespace detail

bool poison_shared() { return detail::env_switch(g_poison_shared, "HALFWAY_EMU_POISON_SHARED"); }

void set_poison_shared(bool on) { g_poison_shared.store(on ? 1 : 0); }

void reset_thread_order() {
  auto& st = detail::order_state();
  std::lock_guard lock(st.mutex);
  st.explicit_set = false;
  st.loaded = false;
}

}  // namespace halfway::simt
