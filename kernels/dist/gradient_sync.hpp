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

}  // namespace halfway::dist
