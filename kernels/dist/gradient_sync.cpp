#include "kernels/dist/gradient_sync.hpp"

#include "common/error.hpp"

namespace halfway::dist {

void sum_gradients(Communicator& comm, const amp::GradBuffer& grads, Accumulate acc) {
  HALFWAY_EXPECT(grads.backend == comm.backend(), std::string("gradients on the communicator's backend ") +
                 std::string(to_string(comm.backend())), std::string(to_string(grads.backend)));
  if (comm.size() == 1) return;
  if (grads.dtype == DType::f32) return comm.all_reduce(static_cast<float*>(grads.data), grads.count, ReduceOp::sum);
  comm.all_reduce16(grads.dtype, static_cast<std::uint16_t*>(grads.data), grads.count, acc);
}

}  // namespace halfway::dist
