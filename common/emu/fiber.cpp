// Fiber stacks and switches (see fiber.hpp). Every switch is annotated for ASan (which
// must know the stack it runs on) and TSan (each CUDA thread is its own TSan fiber; the
// switch itself implies no ordering: barriers and launches say what is ordered).
#include "common/emu/fiber.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "common/error.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define HALFWAY_EMU_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) || defined(HALFWAY_EMU_TSAN_ANNOTATIONS)
#include <sanitizer/tsan_interface.h>
#define HALFWAY_EMU_TSAN 1
#endif

namespace ctx = boost::context::detail;

namespace halfway::simt::detail {
namespace {

thread_local Fiber* g_starting = nullptr;

// What a switch leaves for the context it arrives in: where to save the suspended
// context, and whether that was the host (whose stack ASan must learn).
struct Jump {
  void** slot;
  bool from_host;
};

struct FirstJump {
  Jump jump;  // first: a FirstJump* is also a Jump*
  FiberPool* pool;
};

void trampoline(ctx::transfer_t t) {
  Fiber* f = g_starting;
  static_cast<FirstJump*>(t.data)->pool->started(*f, &t);
  std::abort();  // started() never returns
}

}  // namespace

std::size_t FiberPool::stack_bytes() {
  static const std::size_t bytes = [] {
#if defined(HALFWAY_EMU_ASAN) || defined(HALFWAY_EMU_TSAN)
    std::size_t kib = 512;  // sanitizers grow frames a lot
#else
    std::size_t kib = 128;
#endif
    if (const char* env = std::getenv("HALFWAY_EMU_STACK_KIB")) {
      char* end = nullptr;
      unsigned long v = std::strtoul(env, &end, 10);
      if (end != env && *end == '\0' && v >= 64 && v <= 65536) kib = v;
    }
    return kib * 1024;
  }();
  return bytes;
}

void FiberPool::ensure(unsigned n, Entry entry, void* arg) {
  entry_ = entry;
  arg_ = arg;
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  while (fibers_.size() < n) {
    auto f = std::make_unique<Fiber>();
    f->index = static_cast<unsigned>(fibers_.size());
    const std::size_t size = stack_bytes();
    void* mem = mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) throw Error("SIMT emulator: could not map a fiber stack of " + std::to_string(size) + " bytes");
    mprotect(mem, page, PROT_NONE);  // guard page: overflow faults
    f->stack_lo = static_cast<char*>(mem) + page;
    f->stack_size = size;
    f->ctx = nullptr;
#if defined(HALFWAY_EMU_TSAN)
    f->tsan_fiber = __tsan_create_fiber(0);
    std::string name = "CUDA thread slot " + std::to_string(f->index);
    __tsan_set_fiber_name(f->tsan_fiber, name.c_str());
#endif
    fibers_.push_back(std::move(f));
  }
}

void FiberPool::begin_on_host() {
#if defined(HALFWAY_EMU_TSAN)
  host_tsan_fiber_ = __tsan_get_current_fiber();
#endif
}

void FiberPool::switch_to(Fiber* from, Fiber* to) {
  void* target;
  FirstJump first{{from ? &from->ctx : &host_ctx_, from == nullptr}, this};
  if (to) {
    if (!to->ctx) {
      // Stagger the stack tops by a few cache lines: with every top at the same page
      // offset, the hot frames of all fibers would compete for the same L1 sets.
      const std::size_t colour = (to->index % 61) * 64;
      to->ctx = ctx::make_fcontext(to->stack_lo + to->stack_size - colour, to->stack_size - colour, trampoline);
      g_starting = to;
    }
    target = to->ctx;
  } else {
    target = host_ctx_;
  }
#if defined(HALFWAY_EMU_ASAN)
  __sanitizer_start_switch_fiber(from ? &from->asan_fake_stack : &host_fake_stack_, to ? to->stack_lo : host_stack_lo_,
                                 to ? to->stack_size : host_stack_size_);
#endif
#if defined(HALFWAY_EMU_TSAN)
  __tsan_switch_to_fiber(to ? to->tsan_fiber : host_tsan_fiber_, __tsan_switch_to_fiber_no_sync);
#endif
  ctx::transfer_t t = ctx::jump_fcontext(target, &first);
  // Back in `from`: save the context of whoever switched here.
  const Jump& j = *static_cast<const Jump*>(t.data);
  *j.slot = t.fctx;
#if defined(HALFWAY_EMU_ASAN)
  if (j.from_host) __sanitizer_finish_switch_fiber(from ? from->asan_fake_stack : host_fake_stack_,
                                                   &host_stack_lo_, &host_stack_size_);
  else __sanitizer_finish_switch_fiber(from ? from->asan_fake_stack : host_fake_stack_, nullptr, nullptr);
#endif
}

void FiberPool::started(Fiber& f, void* transfer) {
  const auto& t = *static_cast<const ctx::transfer_t*>(transfer);
  const Jump& j = *static_cast<const Jump*>(t.data);
  *j.slot = t.fctx;
#if defined(HALFWAY_EMU_ASAN)
  if (j.from_host) __sanitizer_finish_switch_fiber(nullptr, &host_stack_lo_, &host_stack_size_);
  else __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  (void)f;
  entry_(arg_);
  std::abort();
}

}  // namespace halfway::simt::detail
