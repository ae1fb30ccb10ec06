#include "kernels/dist/nccl_communicator.hpp"

#include "08_data_parallel/shard.hpp"
#include "common/error.hpp"
#include "kernels/fp16/cast.hpp"

namespace halfway::dist {
namespace {
void check_nccl(ncclResult_t rc, const char* call, int rank) {
  if (rc == ncclSuccess) return;
  throw Error("NCCL call " + std::string(call) + " failed on rank " + std::to_string(rank) + ": " +
              ncclGetErrorString(rc));
}
void check_cuda(cudaError_t rc, const char* call) {
  if (rc != cudaSuccess) throw Error("CUDA call " + std::string(call) + " failed: " + cudaGetErrorString(rc));
}
ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::sum ? ncclSum : ncclMax; }

// all_reduce_async's handle: wait() orders the default stream after the side stream.
class NcclPending final : public Pending {
 public:
  explicit NcclPending(cudaStream_t side) {
    check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    check_cuda(cudaEventRecord(done_, side), "cudaEventRecord");
  }
  ~NcclPending() override {
    if (done_) {
      cudaStreamWaitEvent(nullptr, done_, 0);
      cudaEventDestroy(done_);
    }
  }
  void wait() override {
    check_cuda(cudaStreamWaitEvent(nullptr, done_, 0), "cudaStreamWaitEvent");
    check_cuda(cudaEventDestroy(done_), "cudaEventDestroy");
    done_ = nullptr;
  }
  bool done() override { return !done_ || cudaEventQuery(done_) == cudaSuccess; }

 private:
  cudaEvent_t done_ = nullptr;
};
}  // namespace

NcclCommunicator::NcclCommunicator() {
  int devices = 0;
  check_cuda(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
  HALFWAY_EXPECT(devices > 0, "a GPU for the NCCL communicator", "none");
  check_cuda(cudaSetDevice(rank() % devices), "cudaSetDevice");
  ncclUniqueId id{};
  if (rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId", rank());
  bootstrap_.broadcast(&id, sizeof id, 0);
  check_nccl(ncclCommInitRank(&comm_, size(), id, rank()), "ncclCommInitRank", rank());
  check_cuda(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_) {
    ncclResult_t pending = ncclSuccess;
    ncclCommGetAsyncError(comm_, &pending);
    if (pending != ncclSuccess) ncclCommAbort(comm_);  // a peer failed: do not wait for it
    else ncclCommDestroy(comm_);
  }
  if (side_) cudaStreamDestroy(side_);
  if (widened_) cudaFree(widened_);
}

void NcclCommunicator::all_reduce(float* data, std::int64_t n, ReduceOp op) {
  check_nccl(ncclAllReduce(data, data, std::size_t(n), ncclFloat, nccl_op(op), comm_, nullptr), "ncclAllReduce",
             rank());
}

std::unique_ptr<Pending> NcclCommunicator::all_reduce16_async(DType type, std::uint16_t* data, std::int64_t n,
                                                              Accumulate acc) {
  HALFWAY_EXPECT(type != DType::f32, "f16 or bf16 words for all_reduce16", "f32");
  if (acc == Accumulate::wire16) return start_on_side(data, n, type == DType::f16 ? ncclHalf : ncclBfloat16, ncclSum);
  if (widened_n_ < n) {
    if (widened_) check_cuda(cudaFree(widened_), "cudaFree");
    check_cuda(cudaMalloc(&widened_, std::size_t(n) * sizeof(float)), "cudaMalloc");
    widened_n_ = n;
  }
  if (type == DType::f16) cast_f16_to_f32(Backend::cuda, reinterpret_cast<const half*>(data), widened_, std::size_t(n));
  else cast_bf16_to_f32(Backend::cuda, reinterpret_cast<const bfloat16*>(data), widened_, std::size_t(n));
  all_reduce(widened_, n, ReduceOp::sum);
  if (type == DType::f16) cast_f32_to_f16(Backend::cuda, widened_, reinterpret_cast<half*>(data), std::size_t(n));
  else cast_f32_to_bf16(Backend::cuda, widened_, reinterpret_cast<bfloat16*>(data), std::size_t(n));
  return finished_pending();
}

std::unique_ptr<Pending> NcclCommunicator::all_reduce_async(float* data, std::int64_t n, ReduceOp op) {
  return start_on_side(data, n, ncclFloat, nccl_op(op));
}

std::unique_ptr<Pending> NcclCommunicator::start_on_side(void* data, std::int64_t n, ncclDataType_t type,
                                                         ncclRedOp_t op) {
  cudaEvent_t ready = nullptr;  // the side stream starts after the default stream's kernels
  check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreateWithFlags");
  check_cuda(cudaEventRecord(ready, nullptr), "cudaEventRecord");
  check_cuda(cudaStreamWaitEvent(side_, ready, 0), "cudaStreamWaitEvent");
  check_cuda(cudaEventDestroy(ready), "cudaEventDestroy");
  check_nccl(ncclAllReduce(data, data, std::size_t(n), type, op, comm_, side_), "ncclAllReduce", rank());
  return std::make_unique<NcclPending>(side_);
}

// NCCL's reduce-scatter and all-gather need equal shards; uneven ones are N rooted
// reductions (broadcasts) in one group, each shard to (from) its owner.
void NcclCommunicator::reduce_scatter(const float* send, float* recv, std::int64_t n) {
  check_nccl(ncclGroupStart(), "ncclGroupStart", rank());
  for (int r = 0; r < size(); ++r) {
    const ShardRange s = shard_range(n, size(), r);
    check_nccl(ncclReduce(send + s.begin, recv, std::size_t(s.size()), ncclFloat, ncclSum, r, comm_, nullptr),
               "ncclReduce", rank());
  }
  check_nccl(ncclGroupEnd(), "ncclGroupEnd", rank());
}

void NcclCommunicator::all_gather(const float* send, float* recv, std::int64_t n) {
  check_nccl(ncclGroupStart(), "ncclGroupStart", rank());
  for (int r = 0; r < size(); ++r) {
    const ShardRange s = shard_range(n, size(), r);
    check_nccl(ncclBroadcast(r == rank() ? send : recv + s.begin, recv + s.begin, std::size_t(s.size()), ncclFloat, r,
                             comm_, nullptr),
               "ncclBroadcast", rank());
  }
  check_nccl(ncclGroupEnd(), "ncclGroupEnd", rank());
}

void NcclCommunicator::broadcast(void* data, std::int64_t bytes, int root) {
  check_nccl(ncclBroadcast(data, data, std::size_t(bytes), ncclUint8, root, comm_, nullptr), "ncclBroadcast", rank());
}

void NcclCommunicator::barrier() {
  check_cuda(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize");
  bootstrap_.barrier();
}

void NcclCommunicator::send_recv(const float* send, std::int64_t send_n, int to, float* recv, std::int64_t recv_n,
                                 int from) {
  check_nccl(ncclGroupStart(), "ncclGroupStart", rank());
  check_nccl(ncclSend(send, std::size_t(send_n), ncclFloat, to, comm_, nullptr), "ncclSend", rank());
  check_nccl(ncclRecv(recv, std::size_t(recv_n), ncclFloat, from, comm_, nullptr), "ncclRecv", rank());
  check_nccl(ncclGroupEnd(), "ncclGroupEnd", rank());
}

}  // namespace halfway::dist
