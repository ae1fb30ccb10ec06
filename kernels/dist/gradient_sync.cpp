#include "kernels/dist/gradient_sync.hpp"

#include <vector>

#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "kernels/fp16/convert_array.hpp"

namespace halfway::dist {

void sum_gradients(Communicator& comm, const amp::GradBuffer& grads, Accumulate acc) {
  HALFWAY_EXPECT(grads.backend == comm.backend(), std::string("gradients on the communicator's backend ") +
                 std::string(to_string(comm.backend())), std::string(to_string(grads.backend)));
  if (comm.size() == 1) return;
  if (grads.dtype == DType::f32) return comm.all_reduce(static_cast<float*>(grads.data), grads.count, ReduceOp::sum);
  comm.all_reduce16(grads.dtype, static_cast<std::uint16_t*>(grads.data), grads.count, acc);
}

void sum_gradients_as(Communicator& comm, const amp::GradBuffer& grads, DType wire) {
  if (wire == DType::f32 || grads.dtype != DType::f32) {
    HALFWAY_EXPECT(wire == DType::f32 || wire == grads.dtype, std::string("16-bit gradients sent as their own type ") +
                   std::string(to_string(grads.dtype)), std::string(to_string(wire)));
    return sum_gradients(comm, grads, wire == DType::f32 ? Accumulate::fp32 : Accumulate::wire16);
  }
  if (comm.size() == 1) return;
  HALFWAY_EXPECT(grads.backend != Backend::cuda, "fp32 gradients in host memory (cpu, emu) for a 16-bit wire",
                 "cuda (use --grad-storage 16 there)");
  synchronize(grads.backend);  // emu: the backward's queued kernels write these gradients
  float* g = static_cast<float*>(grads.data);
  thread_local std::vector<std::uint16_t> words;  // kept between steps: no allocation per step
  words.resize(std::size_t(grads.count));
  convert_from_f32(wire, g, words.data(), grads.count);  // values past the 16-bit range become inf here
  comm.all_reduce16(wire, words.data(), grads.count, Accumulate::wire16);
  convert_to_f32(wire, words.data(), g, grads.count);
}

std::unique_ptr<Pending> start_sum_gradients(Communicator& comm, const amp::GradBuffer& part, DType wire) {
  if (part.dtype == DType::f32 && wire == DType::f32 && comm.size() > 1)
    return comm.all_reduce_async(static_cast<float*>(part.data), part.count, ReduceOp::sum);
  sum_gradients_as(comm, part, wire);
  return finished_pending();
}

}  // namespace halfway::dist
