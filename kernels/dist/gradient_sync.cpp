#include "kernels/dist/gradient_sync.hpp"

#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "kernels/dist/staging_buffers.hpp"
#include "kernels/fp16/convert_array.hpp"

namespace halfway::dist {
namespace {
void expect_backend(const Communicator& comm, const amp::GradBuffer& grads) {
  HALFWAY_EXPECT(grads.backend == comm.backend(), std::string("gradients on the communicator's backend ") +
                 std::string(to_string(comm.backend())), std::string(to_string(grads.backend)));
}
// fp32 gradients as 16-bit words on the wire: one copy per bucket in flight, kept between
// steps (the thread's own: only the thread that calls MPI starts sums).
StagingBuffers& wire_words() {
  thread_local StagingBuffers words;
  return words;
}
}  // namespace

void sum_gradients(Communicator& comm, const amp::GradBuffer& grads, Accumulate acc) {
  expect_backend(comm, grads);
  if (comm.size() == 1) return;
  if (grads.dtype == DType::f32) return comm.all_reduce(static_cast<float*>(grads.data), grads.count, ReduceOp::sum);
  comm.all_reduce16(grads.dtype, static_cast<std::uint16_t*>(grads.data), grads.count, acc);
}

void sum_gradients_as(Communicator& comm, const amp::GradBuffer& grads, DType wire) {
  start_sum_gradients(comm, grads, wire)->wait();
}

std::unique_ptr<Pending> start_sum_gradients(Communicator& comm, const amp::GradBuffer& part, DType wire) {
  expect_backend(comm, part);
  if (part.dtype != DType::f32) {
    HALFWAY_EXPECT(wire == DType::f32 || wire == part.dtype, std::string("16-bit gradients sent as their own type ") +
                   std::string(to_string(part.dtype)), std::string(to_string(wire)));
    if (comm.size() == 1) return finished_pending();
    return comm.all_reduce16_async(part.dtype, static_cast<std::uint16_t*>(part.data), part.count,
                                   wire == DType::f32 ? Accumulate::fp32 : Accumulate::wire16);
  }
  if (comm.size() == 1) return finished_pending();
  float* g = static_cast<float*>(part.data);
  if (wire == DType::f32) return comm.all_reduce_async(g, part.count, ReduceOp::sum);
  HALFWAY_EXPECT(part.backend != Backend::cuda, "fp32 gradients in host memory (cpu, emu) for a 16-bit wire",
                 "cuda (use --grad-storage 16 there)");
  synchronize(part.backend);  // emu: the backward's queued kernels write these gradients
  StagingBuffers::Lease words = wire_words().take(std::size_t(part.count) * sizeof(std::uint16_t));
  auto* w = static_cast<std::uint16_t*>(words.data());
  convert_from_f32(wire, g, w, part.count);  // values past the 16-bit range become inf here
  std::unique_ptr<Pending> sum = comm.all_reduce16_async(wire, w, part.count, Accumulate::wire16);
  return std::make_unique<StagedPending>(std::move(sum), std::move(words), StageBack::widen, wire, g, part.count);
}

}  // namespace halfway::dist
