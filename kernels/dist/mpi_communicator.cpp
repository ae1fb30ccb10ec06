#include "kernels/dist/mpi_communicator.hpp"

#include <climits>
#include <cstdlib>

#include "08_data_parallel/shard.hpp"
#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "kernels/fp16/convert_array.hpp"

namespace halfway::dist {

void ensure_mpi_initialized() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw Error("MPI_Init_thread failed: is this process started by a working mpirun?");
  // Failures of calls on MPI_COMM_WORLD (the duplicate is set below) return instead of aborting.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  std::atexit([] {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  });
}

void check_mpi(int rc, const char* call, MPI_Comm comm) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  int rank = -1, size = -1;
  if (comm != MPI_COMM_NULL) {
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
  throw Error("MPI call " + std::string(call) + " failed on rank " + std::to_string(rank) + " of " +
              std::to_string(size) + ": " + std::string(text, std::size_t(length)));
}

namespace {
MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::sum ? MPI_SUM : MPI_MAX; }

// MPI reductions of 16-bit words with every partial sum rounded to the 16-bit type (what a
// 16-bit wire does). Blocks of 256 values are widened, added in fp32 and rounded back.
// Declared commutative to MPI_Op_create (its 1): a + b rounds to the same bits as b + a.
// It is not associative (every partial sum rounds), so the bits depend on the order in
// which the ranks are added, which start_all_reduce fixes: blocking or not, one tree.
template <DType T>
void add16(void* in, void* inout, int* len, MPI_Datatype*) {
  constexpr int kBlock = 256;
  float a[kBlock], b[kBlock];
  auto* x = static_cast<const std::uint16_t*>(in);
  auto* y = static_cast<std::uint16_t*>(inout);
  for (int i = 0; i < *len; i += kBlock) {
    const int m = std::min(kBlock, *len - i);
    convert_to_f32(T, x + i, a, m);
    convert_to_f32(T, y + i, b, m);
    for (int k = 0; k < m; ++k) b[k] += a[k];
    convert_from_f32(T, b, y + i, m);
  }
}
MPI_Op sum16_op(DType type) {
  static MPI_Op f16 = MPI_OP_NULL, bf16 = MPI_OP_NULL;
  MPI_Op& op = type == DType::f16 ? f16 : bf16;
  if (op == MPI_OP_NULL)
    check_mpi(MPI_Op_create(type == DType::f16 ? &add16<DType::f16> : &add16<DType::bf16>, 1, &op), "MPI_Op_create",
              MPI_COMM_NULL);
  return op;
}

class MpiPending final : public Pending {
 public:
  MpiPending(MPI_Request request, MPI_Comm comm) : request_(request), comm_(comm) {}
  ~MpiPending() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);  // errors: reported by wait() only
  }
  void wait() override { check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait", comm_); }
  bool done() override {
    int flag = 0;  // a finished request becomes MPI_REQUEST_NULL: a later wait() returns at once
    check_mpi(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE), "MPI_Test", comm_);
    return flag != 0;
  }

 private:
  MPI_Request request_;
  MPI_Comm comm_;
};
}  // namespace

MpiCommunicator::MpiCommunicator(Backend backend) : backend_(backend) {
  HALFWAY_EXPECT(backend != Backend::cuda, "the cpu or emu backend for the MPI communicator (cuda uses NCCL)",
                 "cuda");
  ensure_mpi_initialized();
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup", MPI_COMM_WORLD);
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", comm_);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::wait_for_device() const { synchronize(backend_); }

int MpiCommunicator::count(std::int64_t n, const char* what) const {
  HALFWAY_EXPECT(n >= 0 && n <= INT_MAX, std::string(what) + ": 0 <= n <= " + std::to_string(INT_MAX) +
                 " (MPI counts are int)", "n = " + std::to_string(n));
  return int(n);
}

// Every all-reduce is a nonblocking one (waited for when blocking): a gradient bucket's sum
// then adds every element in the same order as one sum of the whole buffer. OpenMPI's
// MPI_Allreduce picks its algorithm by message size, and with 3 ranks a different size
// adds the ranks in a different order (chapter 08's bucket test showed other bits); its
// MPI_Iallreduce in place runs one tree whatever the size.
std::unique_ptr<Pending> MpiCommunicator::start_all_reduce(void* data, std::int64_t n, MPI_Datatype type, MPI_Op op) {
  wait_for_device();
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, count(n, "all_reduce"), type, op, comm_, &request), "MPI_Iallreduce",
            comm_);
  return std::make_unique<MpiPending>(request, comm_);
}

void MpiCommunicator::all_reduce(float* data, std::int64_t n, ReduceOp op) {
  start_all_reduce(data, n, MPI_FLOAT, mpi_op(op))->wait();
}

std::unique_ptr<Pending> MpiCommunicator::all_reduce_async(float* data, std::int64_t n, ReduceOp op) {
  return start_all_reduce(data, n, MPI_FLOAT, mpi_op(op));
}

// wire16: MPI_Iallreduce with sum16_op, a user-defined operation, which MPI allows in
// nonblocking collectives as in blocking ones (OpenMPI calls it inside MPI_Test and MPI_Wait,
// on this rank's own thread). fp32: the widened copy is summed; wait() rounds it back.
std::unique_ptr<Pending> MpiCommunicator::all_reduce16_async(DType type, std::uint16_t* data, std::int64_t n,
                                                             Accumulate acc) {
  HALFWAY_EXPECT(type != DType::f32, "f16 or bf16 words for all_reduce16", "f32");
  if (acc == Accumulate::wire16) return start_all_reduce(data, n, MPI_UINT16_T, sum16_op(type));
  wait_for_device();
  StagingBuffers::Lease wide = widened_.take(std::size_t(count(n, "all_reduce16")) * sizeof(float));
  convert_to_f32(type, data, static_cast<float*>(wide.data()), n);
  std::unique_ptr<Pending> sum = start_all_reduce(wide.data(), n, MPI_FLOAT, MPI_SUM);
  return std::make_unique<StagedPending>(std::move(sum), std::move(wide), StageBack::round, type, data, n);
}

void MpiCommunicator::shard_counts(std::int64_t n) {
  count(n, "reduce_scatter/all_gather");
  counts_.resize(std::size_t(size_));
  displs_.resize(std::size_t(size_));
  for (int r = 0; r < size_; ++r) {
    const ShardRange s = shard_range(n, size_, r);
    counts_[std::size_t(r)] = int(s.size());
    displs_[std::size_t(r)] = int(s.begin);
  }
}

void MpiCommunicator::reduce_scatter(const float* send, float* recv, std::int64_t n) {
  wait_for_device();
  shard_counts(n);
  check_mpi(MPI_Reduce_scatter(send, recv, counts_.data(), MPI_FLOAT, MPI_SUM, comm_), "MPI_Reduce_scatter", comm_);
}

void MpiCommunicator::all_gather(const float* send, float* recv, std::int64_t n) {
  wait_for_device();
  shard_counts(n);
  // send may be this rank's own shard inside recv (ZeRO-1 gathers in place): MPI_IN_PLACE.
  const bool in_place = send == recv + displs_[std::size_t(rank_)];
  check_mpi(MPI_Allgatherv(in_place ? MPI_IN_PLACE : send, counts_[std::size_t(rank_)], MPI_FLOAT, recv, counts_.data(), displs_.data(),
                           MPI_FLOAT, comm_),
            "MPI_Allgatherv", comm_);
}

void MpiCommunicator::broadcast(void* data, std::int64_t bytes, int root) {
  wait_for_device();
  check_mpi(MPI_Bcast(data, count(bytes, "broadcast"), MPI_BYTE, root, comm_), "MPI_Bcast", comm_);
}

void MpiCommunicator::barrier() { check_mpi(MPI_Barrier(comm_), "MPI_Barrier", comm_); }

void MpiCommunicator::send_recv(const float* send, std::int64_t send_n, int to, float* recv, std::int64_t recv_n,
                                int from) {
  wait_for_device();
  check_mpi(MPI_Sendrecv(send, count(send_n, "send_recv"), MPI_FLOAT, to, 0, recv, count(recv_n, "send_recv"),
                         MPI_FLOAT, from, 0, comm_, MPI_STATUS_IGNORE),
            "MPI_Sendrecv", comm_);
}

}  // namespace halfway::dist
