#include "kernels/dist/single_communicator.hpp"

#include "common/device_memory.hpp"
#include "common/error.hpp"

namespace halfway::dist {
namespace {
struct Done final : Pending {
  void wait() override {}
  bool done() override { return true; }
};
void expect_self(int r, const char* what) {
  HALFWAY_EXPECT(r == 0, std::string(what) + " rank 0 (a single process is rank 0 of 1)", "rank " + std::to_string(r));
}
}  // namespace

std::unique_ptr<Pending> finished_pending() { return std::make_unique<Done>(); }

std::unique_ptr<Pending> SingleCommunicator::all_reduce_async(float*, std::int64_t, ReduceOp) {
  return finished_pending();
}
std::unique_ptr<Pending> SingleCommunicator::all_reduce16_async(DType, std::uint16_t*, std::int64_t, Accumulate) {
  return finished_pending();
}
void SingleCommunicator::reduce_scatter(const float* send, float* recv, std::int64_t n) {
  copy_within(backend_, recv, send, std::size_t(n) * sizeof(float));
}
void SingleCommunicator::all_gather(const float* send, float* recv, std::int64_t n) {
  copy_within(backend_, recv, send, std::size_t(n) * sizeof(float));
}
void SingleCommunicator::broadcast(void*, std::int64_t, int root) { expect_self(root, "broadcast from"); }
void SingleCommunicator::send_recv(const float* send, std::int64_t send_n, int to, float* recv, std::int64_t recv_n,
                                   int from) {
  expect_self(to, "send_recv to");
  expect_self(from, "send_recv from");
  HALFWAY_EXPECT(send_n == recv_n, "as many values received as sent to oneself",
                 std::to_string(send_n) + " sent, " + std::to_string(recv_n) + " received");
  copy_within(backend_, recv, send, std::size_t(send_n) * sizeof(float));
}

}  // namespace halfway::dist
