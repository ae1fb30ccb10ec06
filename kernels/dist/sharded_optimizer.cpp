#include "kernels/dist/sharded_optimizer.hpp"

#include <cstring>
#include <string>

#include "08_data_parallel/found_inf.hpp"
#include "common/error.hpp"
#include "kernels/fp16/convert_array.hpp"

namespace halfway::dist {

namespace {
std::size_t bytes_of(DType t) { return t == DType::f32 ? 4 : 2; }
}  // namespace

ShardedOptimizer::ShardedOptimizer(Communicator& comm, Backend backend, std::int64_t n, bool found_inf_consensus)
    : comm_(comm), backend_(backend), n_(n), range_(shard_range(n, comm.size(), comm.rank())),
      consensus_(found_inf_consensus) {
  // The buffers are read and written in place on the host between the ranks' calls.
  HALFWAY_EXPECT(backend != Backend::cuda, "a sharded optimizer on the cpu or emu backend (host memory)",
                 "cuda (--shard-optimizer is not built for NCCL yet)");
  HALFWAY_EXPECT(comm.backend() == backend, std::string("a communicator on ") + std::string(to_string(backend)),
                 std::string(to_string(comm.backend())));
}

void ShardedOptimizer::own_masters(const float* all) {
  const MemoryUseScope use(MemoryUse::parameters);
  float* mine = masters_.get(std::size_t(range_.size()), backend_);
  synchronize(backend_);
  if (range_.size() > 0) std::memcpy(mine, all + range_.begin, std::size_t(range_.size()) * sizeof(float));
}

void ShardedOptimizer::ensure_moments() {
  if (has_moments() || range_.size() == 0) return;
  const MemoryUseScope use(MemoryUse::optimizer_state);
  for (Buf<float>* b : {&m_, &v_}) {
    float* p = b->get(std::size_t(range_.size()), backend_);
    std::memset(p, 0, b->bytes());
  }
}

void ShardedOptimizer::reduce_scatter(const amp::GradBuffer& g) {
  HALFWAY_EXPECT(g.count == n_, std::to_string(n_) + " gradients", std::to_string(g.count));
  if (comm_.size() == 1) return;
  const std::size_t mine = std::size_t(range_.size());
  part_.resize(mine);
  if (g.dtype == DType::f32) {
    float* all = static_cast<float*>(g.data);
    comm_.reduce_scatter(all, part_.data(), n_);  // waits for the backend's queued backward
    if (mine) std::memcpy(all + range_.begin, part_.data(), mine * sizeof(float));
    return;
  }
  // 16-bit gradients: summed in fp32 (MPI has no f16 sum), rounded to the 16-bit type once.
  synchronize(backend_);
  auto* all = static_cast<std::uint16_t*>(g.data);
  wide_.resize(std::size_t(n_));
  convert_to_f32(g.dtype, all, wide_.data(), n_);
  comm_.reduce_scatter(wide_.data(), part_.data(), n_);
  convert_from_f32(g.dtype, part_.data(), all + range_.begin, range_.size());
}

amp::GradBuffer ShardedOptimizer::shard_of(const amp::GradBuffer& g) const {
  auto* base = static_cast<unsigned char*>(g.data) + std::size_t(range_.begin) * bytes_of(g.dtype);
  return {g.backend, g.dtype, base, range_.size()};
}

void ShardedOptimizer::agree(optim::StepWords* words, amp::ScalerWords* scaler, const optim::StepRule& rule) {
  synchronize(backend_);  // the check of this rank's shard has written both
  if (!consensus_) {  // the ablation: this rank's shard alone decides, its norm included
    *words = optim::finish_step(double(words->grad_norm) * double(words->grad_norm), scaler->found_inf, rule);
    return;
  }
  // found_inf: any rank's overflow is every rank's (exercise 08.3).
  float found = scaler->found_inf != 0u ? 1.0f : 0.0f;
  found_inf_consensus(comm_, &found);
  // The norm: every rank's shard norm, summed as squares in rank order in double on every
  // rank alike (an all-reduce's order is the library's; this one is the same everywhere).
  std::vector<float> norms(std::size_t(comm_.size()));
  norms[std::size_t(comm_.rank())] = words->grad_norm;
  comm_.all_gather(norms.data() + comm_.rank(), norms.data(), comm_.size());
  double sum = 0;
  for (float x : norms) sum += double(x) * double(x);
  scaler->found_inf = found != 0.0f ? 1u : 0u;  // what the scaler's update reads
  *words = optim::finish_step(sum, scaler->found_inf, rule);
}

void ShardedOptimizer::gather_working(void* working, DType type) {
  if (comm_.size() == 1) return;
  if (type == DType::f32) return comm_.all_gather(static_cast<float*>(working) + range_.begin, static_cast<float*>(working), n_);
  // 16-bit words: the interface's all-gather moves floats, so each owner broadcasts its
  // shard's bytes (N rooted calls: the same bytes on the wire as one all-gather).
  auto* base = static_cast<unsigned char*>(working);
  for (int r = 0; r < comm_.size(); ++r) {
    const ShardRange s = shard_range(n_, comm_.size(), r);
    if (s.size() > 0) comm_.broadcast(base + std::size_t(s.begin) * 2, s.size() * 2, r);
  }
}

std::vector<float> ShardedOptimizer::gather_host(const float* shard) {
  std::vector<float> all(std::size_t(n_), 0.0f);
  synchronize(backend_);
  if (range_.size() > 0) std::memcpy(all.data() + range_.begin, shard, std::size_t(range_.size()) * sizeof(float));
  if (comm_.size() > 1) comm_.all_gather(all.data() + range_.begin, all.data(), n_);
  return all;
}

void ShardedOptimizer::scatter_host(const std::vector<float>& all, float* shard) const {
  HALFWAY_EXPECT(std::int64_t(all.size()) == n_, std::to_string(n_) + " values", std::to_string(all.size()));
  synchronize(backend_);
  if (range_.size() > 0) std::memcpy(shard, all.data() + range_.begin, std::size_t(range_.size()) * sizeof(float));
}

}  // namespace halfway::dist
