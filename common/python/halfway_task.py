"""The course's task in Python, drawn exactly as the C++ draws it: the vocabulary, the
seeded 80/20 split and padded batches of common/number_words.hpp, and the trainer's data
order of kernels/train/data.hpp. A reference script that uses these sees the same held-out
numbers and the same batches, in the same order, as halfway-train.

Vocabulary: 0 <pad>, 1 <sos>, 2 <eos>, digit d is token 3 + d on both sides.
"""
import numpy as np

import halfway_rng as rng

PAD, SOS, EOS = 0, 1, 2
VOCAB = 13
NUMBERS = 1000
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def source_tokens(n):
    return [3 + int(c) for c in str(n)]


def target_words(n):
    """n's digits as word tokens (no <sos>/<eos>)."""
    return source_tokens(n)


def words(tokens):
    """'four zero seven': word tokens up to <eos>; <pad> and <sos> skipped."""
    out = []
    for t in tokens:
        if t == EOS:
            break
        if t in (PAD, SOS):
            continue
        out.append(WORDS[t - 3] if 3 <= t < VOCAB else "<?>")
    return " ".join(out)


def split_numbers(seed=0, train_share=0.8):
    """(train, held_out): Fisher-Yates over 0..999 with uniform(derive_seed(seed, 0x5b117), i),
    j = min(i, floor(u * (i + 1))) in float32 as number_words.cpp computes it."""
    order = list(range(NUMBERS))
    s = rng.derive_seed(seed, 0x5B117)
    idx = np.arange(NUMBERS, dtype=np.uint64)
    u = rng.uniform(s, idx)
    for i in range(NUMBERS - 1, 0, -1):
        j = min(i, int(u[i] * np.float32(i + 1)))
        order[i], order[j] = order[j], order[i]
    n_train = int(np.floor(train_share * NUMBERS + 0.5))  # lround of a positive value
    return order[:n_train], order[n_train:]


class DataOrder:
    """kernels/train/data.hpp: epoch e is a Fisher-Yates shuffle by bits(derive_seed(seed, e), i),
    cut into batches; the last batch of an epoch may be smaller."""

    def __init__(self, numbers, batch, run_seed):
        self.numbers, self.batch_size = list(numbers), batch
        self.seed = rng.derive_seed(run_seed, rng.name_tag("data order"))
        self.per_epoch = (len(self.numbers) + batch - 1) // batch
        self._epoch, self._order = -1, None

    def epoch_order(self, e):
        v = list(self.numbers)
        b = rng.bits(rng.derive_seed(self.seed, e), np.arange(len(v), dtype=np.uint64))
        for i in range(len(v) - 1, 0, -1):
            j = int(b[i]) % (i + 1)
            v[i], v[j] = v[j], v[i]
        return v

    def batch(self, k):
        """The numbers of micro-batch k (from 0)."""
        e, j = divmod(k, self.per_epoch)
        if e != self._epoch:
            self._epoch, self._order = e, self.epoch_order(e)
        return self._order[j * self.batch_size:(j + 1) * self.batch_size]


def make_batch(numbers):
    """Padded arrays (int64 tokens, bool masks True at padding): src [B, Ls], tgt_in, tgt_out,
    src_pad, tgt_pad [B, Lt], with Ls the longest source and Lt = Ls + 1."""
    b = len(numbers)
    ls = max(len(str(n)) for n in numbers)
    lt = ls + 1
    src = np.full((b, ls), PAD, dtype=np.int64)
    tgt_in = np.full((b, lt), PAD, dtype=np.int64)
    tgt_out = np.full((b, lt), PAD, dtype=np.int64)
    for r, n in enumerate(numbers):
        s = source_tokens(n)
        src[r, :len(s)] = s
        tgt_in[r, :len(s) + 1] = [SOS] + s
        tgt_out[r, :len(s) + 1] = s + [EOS]
    return src, tgt_in, tgt_out, src == PAD, tgt_in == PAD


def target_tokens(n):
    """What a correct translation outputs: the words and <eos>."""
    return target_words(n) + [EOS]
