/// @file nccl_communicator.hpp
/// @brief The NCCL communicator (cuda backend: buffers in GPU memory). Only in builds with
/// CUDA, MPI and NCCL (HALFWAY_WITH_NCCL).
///
/// Bootstrap: rank 0 makes an ncclUniqueId, MPI broadcasts it, every rank calls
/// ncclCommInitRank on the GPU `local rank mod device count`. Collectives run on the default
/// stream (ordered after the kernels that produced the gradients); all_reduce_async runs on
/// a second stream that first waits for the default one, and its wait() makes the default
/// stream wait for it (the host does not block).
///
/// Errors and timeouts: a failing call throws halfway::Error with NCCL's message. NCCL
/// calls are asynchronous; a dead peer is seen by mpirun, which stops the job, and the
/// destructor calls ncclCommAbort rather than ncclCommDestroy when an error is pending.
///
/// Not run on this course's machines (no GPU): compiled for sm_80/sm_90 in the default
/// preset wherever nvcc and NCCL are found, never executed in CI.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include "kernels/dist/communicator.hpp"
#include "kernels/dist/mpi_communicator.hpp"

namespace halfway::dist {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator();
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return bootstrap_.rank(); }
  int size() const override { return bootstrap_.size(); }
  std::string name() const override { return "nccl"; }
  Backend backend() const override { return Backend::cuda; }

  void all_reduce(float* data, std::int64_t n, ReduceOp op) override;
  std::unique_ptr<Pending> all_reduce_async(float* data, std::int64_t n, ReduceOp op) override;
  /// wire16: on the side stream, like all_reduce_async. fp32: widened, summed and rounded on
  /// the default stream (one shared GPU copy, in stream order), handed back finished.
  std::unique_ptr<Pending> all_reduce16_async(DType type, std::uint16_t* data, std::int64_t n, Accumulate acc) override;
  void reduce_scatter(const float* send, float* recv, std::int64_t n) override;
  void all_gather(const float* send, float* recv, std::int64_t n) override;
  void broadcast(void* data, std::int64_t bytes, int root) override;
  void barrier() override;
  void send_recv(const float* send, std::int64_t send_n, int to, float* recv, std::int64_t recv_n, int from) override;

 private:
  /// An in-place ncclAllReduce on the side stream, after the default stream's work so far.
  std::unique_ptr<Pending> start_on_side(void* data, std::int64_t n, ncclDataType_t type, ncclRedOp_t op);

  MpiCommunicator bootstrap_{Backend::cpu};
  ncclComm_t comm_ = nullptr;
  cudaStream_t side_ = nullptr;   // all_reduce_async's stream
  float* widened_ = nullptr;      // all_reduce16 with fp32 accumulation (GPU memory)
  std::int64_t widened_n_ = 0;
};

}  // namespace halfway::dist
