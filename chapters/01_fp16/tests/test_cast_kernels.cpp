// The cast kernels on the emulator (ch01_tests_emu) or the GPU (ch01_tests_gpu): bit for
// bit the cpu casts' results and counts, at odd sizes, odd alignments and edge values; the
// counts in the caller's workspace, with nothing allocated by the cast.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include "chapters/01_fp16/tests/cast_inputs.hpp"
#include "common/backend.hpp"
#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "kernels/fp16/cast.hpp"
#if !defined(HALFWAY_TEST_NEEDS_GPU)
#include "common/emu/runtime.hpp"
#endif

using namespace halfway;

#if defined(HALFWAY_TEST_NEEDS_GPU)
#define BACKEND_NAME "gpu"
constexpr Backend kBackend = Backend::cuda;
#else
#define BACKEND_NAME "emu"
constexpr Backend kBackend = Backend::emu;
#endif

namespace {

// Memory where the backend computes (a Buf: the GPU's for cuda, the host's for the
// emulator), with 4 spare elements: the casts start `offset` elements in, to test
// unaligned pointers.
template <class T>
class Buffer {
 public:
  explicit Buffer(std::size_t n) : n_(n) { buf_.get(n + 4, kBackend); }
  T* data(std::size_t offset) { return buf_.data() + offset; }
  void upload(const std::vector<T>& v, std::size_t offset) {
    copy_in(kBackend, data(offset), v.data(), v.size() * sizeof(T));
  }
  std::vector<T> download(std::size_t offset) { return to_host(kBackend, data(offset), n_); }

 private:
  std::size_t n_;
  Buf<T> buf_;
};

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Casts `in` both ways on the backend and on the cpu, starting `offset` elements into
// each buffer, and compares bits and counts.
void check_casts(const std::vector<float>& in, std::size_t offset) {
  const std::size_t n = in.size();
  CAPTURE(n);
  CAPTURE(offset);
  std::vector<half> want_h(n);
  std::vector<bfloat16> want_b(n);
  std::vector<float> want_back_h(n), want_back_b(n);
  CastCounts want_ch, want_cb;
  cpu::cast_f32_to_f16(in.data(), want_h.data(), n, &want_ch);
  cpu::cast_f32_to_bf16(in.data(), want_b.data(), n, &want_cb);
  cpu::cast_f16_to_f32(want_h.data(), want_back_h.data(), n);
  cpu::cast_bf16_to_f32(want_b.data(), want_back_b.data(), n);

  Buffer<float> d_in(n), d_back(n);
  Buffer<half> d_h(n);
  Buffer<bfloat16> d_b(n);
  d_in.upload(in, offset);
  Buf<unsigned long long> work;  // the counters, the caller's workspace
  unsigned long long* counters = work.get(kCastCounters, kBackend);
  CastCounts ch, cb;
  ch.overflow = cb.flushed = 12345;  // must be overwritten
  cast_f32_to_f16(kBackend, d_in.data(offset), d_h.data(offset), n, &ch, counters);
  cast_f32_to_bf16(kBackend, d_in.data(offset), d_b.data(offset), n, &cb, counters);  // reused: zeroed again
  CHECK(same_bits(d_h.download(offset), want_h));
  CHECK(same_bits(d_b.download(offset), want_b));
  CHECK(ch == want_ch);
  CHECK(cb == want_cb);

  cast_f16_to_f32(kBackend, d_h.data(offset), d_back.data(offset), n);
  CHECK(same_bits(d_back.download(offset), want_back_h));
  cast_bf16_to_f32(kBackend, d_b.data(offset), d_back.data(offset), n);
  CHECK(same_bits(d_back.download(offset), want_back_b));

  // Without counts: the same bits.
  cast_f32_to_f16(kBackend, d_in.data(offset), d_h.data(offset), n, nullptr);
  CHECK(same_bits(d_h.download(offset), want_h));
}

}  // namespace

TEST_CASE(BACKEND_NAME " casts of edge values equal the cpu casts bit for bit") {
  const std::vector<float> in = cast_edge_values();
  check_casts(in, 0);
  // The counts, written out once: 65520, -65520, 1e10 and the two largest floats
  // overflow in fp16; 2^-25, -2^-25, 1e-8, 1e-39 and two float subnormals flush; 2^-24
  // and the largest fp16 subnormal stay subnormal.
  CastCounts c;
  std::vector<half> out(in.size());
  cpu::cast_f32_to_f16(in.data(), out.data(), in.size(), &c);
  CHECK(c.overflow == 5);
  CHECK(c.flushed == 6);
  CHECK(c.subnormal == 2);
}

TEST_CASE(BACKEND_NAME " casts at sizes 1 17 and 1023 equal the cpu casts bit for bit") {
  for (std::size_t n : {1, 2, 17, 1023}) check_casts(cast_test_inputs(n, n), 0);
}

TEST_CASE(BACKEND_NAME " casts from unaligned pointers equal the cpu casts bit for bit") {
  // Offset 1: floats 4 bytes and halves 2 bytes off alignment, so the scalar path runs.
  for (std::size_t n : {1, 17, 1023}) check_casts(cast_test_inputs(n, n + 1), 1);
}

TEST_CASE(BACKEND_NAME " casts of a large tensor use many blocks and agree") {
  // More values than one launch's threads (4096 blocks of 256, two values each).
  check_casts(cast_test_inputs((1u << 21) + 3, 11), 0);
}

TEST_CASE(BACKEND_NAME " casts of nothing do nothing") {
  Buf<unsigned long long> work;
  CastCounts c;
  c.overflow = 7;
  cast_f32_to_f16(kBackend, nullptr, nullptr, 0, &c, work.get(kCastCounters, kBackend));
  CHECK(c == CastCounts{});
  cast_f16_to_f32(kBackend, nullptr, nullptr, 0);
}

TEST_CASE(BACKEND_NAME " counted casts need the caller's workspace") {
  const std::vector<float> in = cast_test_inputs(17, 17);
  Buffer<float> d_in(in.size());
  Buffer<half> d_h(in.size());
  d_in.upload(in, 0);
  CastCounts c;
  CHECK_THROWS_AS(cast_f32_to_f16(kBackend, d_in.data(0), d_h.data(0), in.size(), &c), Error);
  CHECK_NOTHROW(cast_f32_to_f16(kBackend, d_in.data(0), d_h.data(0), in.size()));  // no counts: none needed
}

#if !defined(HALFWAY_TEST_NEEDS_GPU)
TEST_CASE("emu counted casts allocate nothing") {
  // A fresh thread, so a cast that kept per-thread counters would allocate them here.
  const std::vector<float> in = cast_test_inputs(1023, 5);
  Buffer<float> d_in(in.size());
  Buffer<bfloat16> d_b(in.size());
  d_in.upload(in, 0);
  Buf<unsigned long long> work;
  unsigned long long* counters = work.get(kCastCounters, kBackend);
  const unsigned long long mallocs = simt::emu_counters().device_allocations;
  const unsigned long long bufs = allocation_count(kBackend);
  CastCounts c;
  std::exception_ptr failure;  // an exception must not leave the thread (a stub exercise throws one)
  std::thread([&] {
    try {
      cast_f32_to_bf16(kBackend, d_in.data(0), d_b.data(0), in.size(), &c, counters);
    } catch (...) {
      failure = std::current_exception();
    }
  }).join();
  if (failure) std::rethrow_exception(failure);
  CHECK(simt::emu_counters().device_allocations == mallocs);
  CHECK(allocation_count(kBackend) == bufs);
  CastCounts want;
  std::vector<bfloat16> out(in.size());
  cpu::cast_f32_to_bf16(in.data(), out.data(), in.size(), &want);
  CHECK(c == want);
}
#endif
