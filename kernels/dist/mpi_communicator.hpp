/// @file mpi_communicator.hpp
/// @brief The MPI communicator (cpu and emu backends: buffers in host memory), over a
/// duplicate of MPI_COMM_WORLD. Only in builds with MPI (HALFWAY_WITH_MPI).
///
/// Errors: the communicator's error handler is MPI_ERRORS_RETURN, so a failing call returns
/// its code instead of aborting the job, and the code becomes one halfway::Error naming the
/// call, the rank and MPI's message. Timeouts: MPI has no per-call timeout. A rank that
/// dies (a crash, a signal, an exit without MPI_Finalize) is seen by mpirun, which then
/// stops every other rank: those blocked in a collective do not hang. A rank that stays
/// alive but never calls (a deadlock of the program) is bounded by mpirun's `--timeout S`
/// and by ctest's TIMEOUT, which chapter 08's tests set.
#pragma once

#include <mpi.h>

#include <vector>

#include "kernels/dist/communicator.hpp"
#include "kernels/dist/staging_buffers.hpp"

namespace halfway::dist {

/// Initialises MPI once per process (MPI_THREAD_FUNNELED: only the main thread calls MPI)
/// and finalises it at exit.
void ensure_mpi_initialized();
/// Throws halfway::Error "MPI call <call> failed on rank r of N: <MPI's message>" unless rc is MPI_SUCCESS.
void check_mpi(int rc, const char* call, MPI_Comm comm);

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(Backend backend);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  Backend backend() const override { return backend_; }
  MPI_Comm comm() const { return comm_; }

  void all_reduce(float* data, std::int64_t n, ReduceOp op) override;
  std::unique_ptr<Pending> all_reduce_async(float* data, std::int64_t n, ReduceOp op) override;
  std::unique_ptr<Pending> all_reduce16_async(DType type, std::uint16_t* data, std::int64_t n, Accumulate acc) override;
  void reduce_scatter(const float* send, float* recv, std::int64_t n) override;
  void all_gather(const float* send, float* recv, std::int64_t n) override;
  void broadcast(void* data, std::int64_t bytes, int root) override;
  void barrier() override;
  void send_recv(const float* send, std::int64_t send_n, int to, float* recv, std::int64_t recv_n, int from) override;

 private:
  /// Queued emu kernels finish before MPI reads or writes their memory.
  void wait_for_device() const;
  int count(std::int64_t n, const char* what) const;
  /// MPI_Iallreduce in place: every all-reduce of this class.
  std::unique_ptr<Pending> start_all_reduce(void* data, std::int64_t n, MPI_Datatype type, MPI_Op op);
  /// Every rank's shard size and offset of n values (MPI's counts and displacements).
  void shard_counts(std::int64_t n);

  Backend backend_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  StagingBuffers widened_;               // all_reduce16 with fp32 accumulation: one copy per sum in flight
  std::vector<int> counts_, displs_;     // reduce_scatter, all_gather
};

}  // namespace halfway::dist
