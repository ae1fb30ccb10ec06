/// @file team.hpp
/// @brief The "team" that runs one row function of chapter 03: one cpu thread, or a block.
///
/// The row functions (03_layers/rows.hpp, kernels/layers/row_ops.hpp) take a team as their
/// last argument. A team is `size` members working on one row together; the same source
/// serves the cpu, where the team is one thread (SerialTeam, the default argument, so the
/// cpu's call sites do not mention it), and the kernels, where it is a thread block
/// (BlockTeam, device-only, in kernels/layers/layers.cu).
///
/// The contract, which every team and every row function keep:
/// - `t.rank` (0 <= rank < size) and `t.size` (>= 1) are ints. Member `rank` handles the
///   elements rank, rank + size, rank + 2 size, ... of the row:
///   `for (int i = t.rank; i < n; i += t.size)`. Each element belongs to exactly one member,
///   so a member may write (or `+=`) its own elements without racing the others.
/// - `t.sum(v)` and `t.max(v)` take one value per member and return the sum (max) of all
///   of them to EVERY member, bit for bit the same value everywhere. The order of the sum
///   is fixed by the team (serial for SerialTeam, a tree for BlockTeam), so results are
///   deterministic, but it differs between teams: a block's sum of a row is not the cpu's
///   serial sum to the last bit.
/// - Every member must call sum/max the same number of times in the same order (on a GPU
///   they contain __syncthreads(); a call skipped by one member deadlocks or corrupts the
///   block). So a row function never returns early, or branches around a reduction, on a
///   condition that is not the same for all members (a value returned by sum/max is).
/// - A member with no element (rank >= n) still takes part: it contributes the identity
///   (0 for sum, -inf for max).
/// - Values that every member needs (mean, rstd, the loss) come out of sum/max; a single
///   output (the row's mean) is written by member 0 only.
#pragma once

#include "common/hd.hpp"

namespace halfway::layers {

/// The cpu's team: one thread does the whole row; sum and max of one value are that value.
/// With rank and size compile-time constants, `for (i = t.rank; i < n; i += t.size)` is the
/// plain serial loop, and the cpu computes exactly what it computed before teams existed.
struct SerialTeam {
  static constexpr int rank = 0;
  static constexpr int size = 1;
  template <class T>
  HALFWAY_HD T sum(T v) const {
    return v;
  }
  template <class T>
  HALFWAY_HD T max(T v) const {
    return v;
  }
};

}  // namespace halfway::layers
