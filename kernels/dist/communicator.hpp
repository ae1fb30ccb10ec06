/// @file communicator.hpp
/// @brief Chapter 08's communicator: the collectives data-parallel training needs, one
/// interface over MPI (cpu and emu backends) and NCCL (cuda).
///
/// Every rank runs the same program on its share of the batch; after the backward the ranks
/// combine their gradients with these calls. Buffers live where the backend computes: host
/// memory on cpu and emu (the emulator's device memory is host memory; queued emu kernels
/// are waited for first), GPU memory on cuda. Every call is collective: every rank makes it,
/// in the same order, with the same n.
///
/// Uneven sizes are allowed everywhere: reduce-scatter and all-gather split n into the
/// ZeRO-1 shards of exercise 08.2 (`shard_range`: the first n % N ranks hold one more).
///
/// Errors: a failing call throws halfway::Error naming the call, the rank and the cause.
/// A rank that dies ends the job (mpirun stops every rank when one exits without MPI's
/// finalize), so the others never wait on it forever: see make_communicator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/backend.hpp"
#include "common/dtype.hpp"

namespace halfway::dist {

enum class ReduceOp { sum, max };

/// How an all-reduce of 16-bit words adds them.
enum class Accumulate {
  fp32,    ///< widened to fp32, summed in fp32, rounded once at the end (32 bits on the wire)
  wire16,  ///< 16 bits on the wire, every partial sum rounded to the 16-bit type (NCCL's
           ///< ncclHalf): a sum of finite values can overflow to inf
};

/// A nonblocking collective in flight: wait() returns when its buffer holds the result.
/// Destroying an unwaited one waits (a buffer must not be reused while the network reads it).
class Pending {
 public:
  virtual ~Pending() = default;
  virtual void wait() = 0;
  /// Whether it has finished, without blocking. MPI moves a nonblocking collective on only
  /// inside MPI calls: asking now and then (the gradient buckets ask after every layer's
  /// backward) is what lets it overlap the computation.
  virtual bool done() = 0;
};
/// A collective that has already finished (a blocking one, or a size-1 communicator's).
std::unique_ptr<Pending> finished_pending();

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "single", "mpi" or "nccl".
  virtual std::string name() const = 0;
  /// Where the buffers of every call live.
  virtual Backend backend() const = 0;

  /// In place: every rank ends with the elementwise sum (or max) over the ranks.
  virtual void all_reduce(float* data, std::int64_t n, ReduceOp op) = 0;
  /// In place, the sum of f16 or bf16 bit patterns, added as `acc` says.
  void all_reduce16(DType type, std::uint16_t* data, std::int64_t n, Accumulate acc) {
    all_reduce16_async(type, data, n, acc)->wait();
  }
  /// Starts an in-place all-reduce and returns at once; the buffer is the network's until wait().
  virtual std::unique_ptr<Pending> all_reduce_async(float* data, std::int64_t n, ReduceOp op) = 0;
  /// all_reduce16, started: the same sum, bit for bit, in `data` after wait(). Several may be
  /// in flight at once (Accumulate::fp32 widens into a copy of its own for each).
  virtual std::unique_ptr<Pending> all_reduce16_async(DType type, std::uint16_t* data, std::int64_t n,
                                                      Accumulate acc) = 0;
  /// `send` holds n values on every rank; `recv` gets this rank's shard of their sum
  /// (shard_range(n, size(), rank()): recv holds end - begin values).
  virtual void reduce_scatter(const float* send, float* recv, std::int64_t n) = 0;
  /// `send` holds this rank's shard of n values; every rank's `recv` gets all n. `send` may
  /// be this rank's own shard inside `recv` (in place).
  virtual void all_gather(const float* send, float* recv, std::int64_t n) = 0;
  /// `bytes` bytes of rank `root`'s `data` to every rank.
  virtual void broadcast(void* data, std::int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  /// Point to point, both at once (no deadlock in a ring): sends send_n floats to rank
  /// `to` and receives recv_n floats from rank `from`. Exercise 08.1 builds the ring on it.
  virtual void send_recv(const float* send, std::int64_t send_n, int to, float* recv, std::int64_t recv_n,
                         int from) = 0;
};

/// True when this process was started by mpirun/mpiexec (OpenMPI's, MPICH's or a PMIx
/// launcher's environment), whether or not this build has MPI.
bool launched_by_mpirun();

/// Ends every rank of the job with exit code `code` (MPI_Abort on MPI_COMM_WORLD once MPI is
/// initialised; otherwise this process alone). For an error that only one rank sees (rank 0
/// alone writes the checkpoints and the log): had that rank just exited, the others would
/// wait in their next collective forever, and MPI_Finalize on the failing rank waits for them.
[[noreturn]] void abort_all_ranks(int code);

/// The communicator for `backend`: MPI (cpu, emu) or NCCL (cuda) when this process was
/// launched by mpirun, a size-1 communicator otherwise (a single process stays exactly a
/// single process: MPI is not even initialised). Throws a clear Error when launched by
/// mpirun in a build without MPI (or without NCCL for cuda).
std::unique_ptr<Communicator> make_communicator(Backend backend);

}  // namespace halfway::dist
