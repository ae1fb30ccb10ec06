/// @file staging_buffers.hpp
/// @brief Collectives run on a copy in another type: 16-bit gradients widened to fp32 for an
/// fp32 sum (Accumulate::fp32), fp32 gradients rounded to 16-bit words for a 16-bit wire.
///
/// Each such collective in flight needs its own host copy: gradient buckets start several
/// before the first is waited for, and a copy that the network still reads must not be
/// written by the next bucket's conversion. StagingBuffers lends one buffer per collective
/// and takes it back when the collective is waited for; its buffers are kept between
/// steps, so a run whose buckets are the same every step allocates them in its first step
/// only. StagedPending is the collective's handle: wait() finishes the sum on the copy,
/// then converts the copy back into the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/dtype.hpp"
#include "kernels/dist/communicator.hpp"

namespace halfway::dist {

class StagingBuffers {
  struct Slot {
    std::unique_ptr<std::byte[]> bytes;
    std::size_t capacity = 0;
    bool lent = false;
  };

 public:
  /// One lent buffer; back to its pool when destroyed (or release()d). The pool must
  /// outlive it.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept : slot_(o.slot_) { o.slot_ = nullptr; }
    Lease& operator=(Lease&& o) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }
    void* data() const { return slot_ ? slot_->bytes.get() : nullptr; }
    void release() {
      if (slot_) slot_->lent = false;
      slot_ = nullptr;
    }

   private:
    friend class StagingBuffers;
    explicit Lease(Slot* s) : slot_(s) { s->lent = true; }
    Slot* slot_ = nullptr;
  };

  /// A buffer of at least `bytes` bytes that no other lease holds: the smallest free one
  /// that is large enough (the same bucket sizes each step then find their own buffers
  /// again), else the largest free one grown, else a new one.
  Lease take(std::size_t bytes);
  /// Buffers held, lent or not.
  std::size_t size() const { return slots_.size(); }

 private:
  std::vector<std::unique_ptr<Slot>> slots_;  // stable addresses: leases point at them
};

/// Buffers that every StagingBuffers of this process allocated or grew so far (a test
/// checks that steps after the first add none).
std::int64_t staging_allocations();

/// What a StagedPending's wait() does with the sum on its copy.
enum class StageBack {
  widen,  ///< the copy holds 16-bit words: widened into the caller's fp32 values
  round,  ///< the copy holds fp32 values: rounded into the caller's 16-bit words
};

/// `sum`, a collective on `copy` (n values), whose result goes back to `dst` as `back`
/// says (`type`: the 16-bit type). Destroyed unwaited, it waits for the network (the copy
/// must not be lent again while it is read) but leaves `dst` as it was.
class StagedPending final : public Pending {
 public:
  StagedPending(std::unique_ptr<Pending> sum, StagingBuffers::Lease copy, StageBack back, DType type, void* dst,
                std::int64_t n)
      : copy_(std::move(copy)), sum_(std::move(sum)), back_(back), type_(type), dst_(dst), n_(n) {}
  void wait() override;
  /// The network is done with it (wait() still converts).
  bool done() override { return sum_->done(); }

 private:
  StagingBuffers::Lease copy_;  // declared before sum_: destroyed after it has waited
  std::unique_ptr<Pending> sum_;
  StageBack back_;
  DType type_;
  void* dst_;
  std::int64_t n_;
};

}  // namespace halfway::dist
