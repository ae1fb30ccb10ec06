/// @file single_communicator.hpp
/// @brief The size-1 communicator: a process started without mpirun. Every collective is
/// the identity (or a copy), so the trainer's data-parallel path costs nothing alone.
#pragma once

#include "kernels/dist/communicator.hpp"

namespace halfway::dist {

class SingleCommunicator final : public Communicator {
 public:
  explicit SingleCommunicator(Backend backend) : backend_(backend) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single"; }
  Backend backend() const override { return backend_; }
  void all_reduce(float*, std::int64_t, ReduceOp) override {}
  std::unique_ptr<Pending> all_reduce_async(float* data, std::int64_t n, ReduceOp op) override;
  std::unique_ptr<Pending> all_reduce16_async(DType type, std::uint16_t* data, std::int64_t n, Accumulate acc) override;
  void reduce_scatter(const float* send, float* recv, std::int64_t n) override;
  void all_gather(const float* send, float* recv, std::int64_t n) override;
  void broadcast(void*, std::int64_t, int root) override;
  void barrier() override {}
  void send_recv(const float* send, std::int64_t send_n, int to, float* recv, std::int64_t recv_n, int from) override;

 private:
  Backend backend_;
};

}  // namespace halfway::dist
