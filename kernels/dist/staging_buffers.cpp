#include "kernels/dist/staging_buffers.hpp"

#include <atomic>

#include "kernels/fp16/convert_array.hpp"

namespace halfway::dist {
namespace {
std::atomic<std::int64_t> allocated{0};
}  // namespace

std::int64_t staging_allocations() { return allocated.load(); }

StagingBuffers::Lease& StagingBuffers::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    slot_ = o.slot_;
    o.slot_ = nullptr;
  }
  return *this;
}

StagingBuffers::Lease StagingBuffers::take(std::size_t bytes) {
  Slot* fit = nullptr;      // the smallest free slot of at least `bytes`
  Slot* largest = nullptr;  // the largest free slot
  for (const std::unique_ptr<Slot>& s : slots_) {
    if (s->lent) continue;
    if (s->capacity >= bytes && (!fit || s->capacity < fit->capacity)) fit = s.get();
    if (!largest || s->capacity > largest->capacity) largest = s.get();
  }
  if (!fit) {
    if (!largest) largest = slots_.emplace_back(std::make_unique<Slot>()).get();
    largest->bytes.reset(new std::byte[bytes]);  // not zeroed: the conversion writes it
    largest->capacity = bytes;
    ++allocated;
    fit = largest;
  }
  return Lease(fit);
}

void StagedPending::wait() {
  sum_->wait();
  if (!copy_.data()) return;  // waited before
  if (back_ == StageBack::widen)
    convert_to_f32(type_, static_cast<const std::uint16_t*>(copy_.data()), static_cast<float*>(dst_), n_);
  else
    convert_from_f32(type_, static_cast<const float*>(copy_.data()), static_cast<std::uint16_t*>(dst_), n_);
  copy_.release();
}

}  // namespace halfway::dist
