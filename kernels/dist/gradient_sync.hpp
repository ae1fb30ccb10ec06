/// @file gradient_sync.hpp
/// @brief The data-parallel trainer's one hook: between the backward and the optimizer step,
/// the flat gradient buffer (the parameter store's, chapter 03) is summed over the ranks.
///
/// Averaging costs nothing extra: the trainer divides its loss weight by the number of
/// ranks (the loss scale already multiplies every gradient), so the sum of the ranks'
/// gradients is their average. Afterwards every rank holds the same gradient bits, so the
/// unscale-and-check, the global norm, the skip decision and the loss scale's update come
/// out the same on every rank without further communication: an inf on one rank becomes
/// inf or NaN in the sum everywhere. (Exercise 08.3's explicit consensus is needed where
/// ranks check different values: ZeRO-1, where each checks only its shard.)
#pragma once

#include "kernels/amp/grad_scaler.hpp"
#include "kernels/dist/communicator.hpp"

namespace halfway::dist {

/// In place over the ranks: fp32 gradients by all_reduce, 16-bit ones by all_reduce16 with
/// `acc` (Accumulate::wire16 can overflow: the trainer's check then skips the step on
/// every rank). `grads` lives in `comm.backend()`'s memory.
void sum_gradients(Communicator& comm, const amp::GradBuffer& grads, Accumulate acc);

/// halfway-train's --comm-dtype: the gradients cross the wire as `wire`.
/// - DType::f32: fp32 gradients as they are, 16-bit ones widened (Accumulate::fp32).
/// - DType::f16 or bf16 (the run's 16-bit type): 16-bit gradients summed in it
///   (Accumulate::wire16); fp32 gradients are first rounded to it and widened back after the
///   sum (cpu and emu: host memory). A sum past the type's range is inf on every rank, which
///   the trainer's check then turns into the same skipped step everywhere.
void sum_gradients_as(Communicator& comm, const amp::GradBuffer& grads, DType wire);

/// sum_gradients_as, started (sum_gradients_as is this and wait()): a bucket's share of it
/// (`part`, a slice of the flat gradient buffer: gradient_buckets.hpp), nonblocking in every
/// case, with the same bits as the blocking call. fp32 on an fp32 wire: all_reduce_async;
/// 16-bit gradients: all_reduce16_async; fp32 gradients on a 16-bit wire: rounded into a
/// copy of their own (staging_buffers.hpp: several buckets are in flight at once), whose
/// sum wait() widens back into `part`. The NCCL communicator's fp32 sum of 16-bit words is
/// stream-ordered but not on the side stream (nccl_communicator.hpp).
std::unique_ptr<Pending> start_sum_gradients(Communicator& comm, const amp::GradBuffer& part, DType wire);

}  // namespace halfway::dist
