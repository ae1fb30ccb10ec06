"""The course's counter-based random numbers (common/rng.hpp) in Python, for the reference
scripts that must draw what the C++ draws: the task's split and data order
(halfway_task.py) and the initial weights (halfway_torch_model.init_like_course).

Philox-4x32-10 on numpy arrays of offsets (uint64 holding 32-bit words: a 32 x 32-bit
product fits), derive_seed (SplitMix64's finaliser) and name_tag (FNV-1a) on Python ints.
bits() and uniform() are exact. normal() follows rng.hpp's float32 operations; its fused
multiply-adds are evaluated as one float64 sum rounded to float32 (the float32 product is
exact in float64, so only a sum needing more than 53 bits could round differently: the
reference scripts compare weights, they never need this bit for bit).
"""
import numpy as np

_MASK = 0xFFFFFFFF
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)  # round multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85                          # key schedule (Weyl)
_STREAM_BITS, _STREAM_NORMAL = 0, 1


def philox4x32_10(ctr, key0, key1):
    """ctr: four arrays (or ints) of 32-bit words; key0, key1: ints. Returns four uint64 arrays."""
    c = [np.asarray(w, dtype=np.uint64) for w in ctr]
    mask, k0, k1 = np.uint64(_MASK), key0 & _MASK, key1 & _MASK
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
        p0, p1 = _M0 * c[0], _M1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & mask,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & mask]
    return c


def _block(seed, offsets, stream):
    off = np.asarray(offsets, dtype=np.uint64)
    zeros = np.zeros_like(off)
    return philox4x32_10([off & np.uint64(_MASK), off >> np.uint64(32), zeros + np.uint64(stream), zeros],
                         seed & _MASK, seed >> 32)


def bits(seed, offsets):
    """32 random bits for (seed, offset), as uint64."""
    return _block(seed, offsets, _STREAM_BITS)[0]


def uniform(seed, offsets):
    """float32 in [0, 1): the top 24 bits times 2^-24 (exact)."""
    return (bits(seed, offsets) >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)


def derive_seed(seed, tag):
    """A seed for a named purpose: SplitMix64's finaliser of seed ^ f(tag)."""
    m = (1 << 64) - 1
    z = (seed ^ ((tag * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & m)) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def name_tag(name):
    """FNV-1a of a name (kernels/layers/modules.hpp)."""
    h = 1469598103934665603
    for byte in name.encode():
        h = ((h ^ byte) * 1099511628211) & ((1 << 64) - 1)
    return h


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def _fma(a, b, c):
    return (_f32(a).astype(np.float64) * _f32(b).astype(np.float64) + _f32(c).astype(np.float64)).astype(np.float32)


def _log_n_times_2_pow_minus_24(n):
    m, e = np.frexp(n.astype(np.float32))
    low = m < np.float32(0.70710678118654752)
    m = np.where(low, m * np.float32(2), m).astype(np.float32)
    e = np.where(low, e - 1, e)
    s = ((m - np.float32(1)) / (m + np.float32(1))).astype(np.float32)
    z = s * s
    r = _fma(z, np.float32(0.111111111111111111), np.float32(0.142857142857142857))
    r = _fma(z, r, np.float32(0.2))
    r = _fma(z, r, np.float32(0.333333333333333333))
    r = r * z
    t = s * np.float32(2)
    log_m = _fma(t, r, t)
    k = (e - 24).astype(np.float32)
    return _fma(k, np.float32(0.693145751953125), _fma(k, np.float32(1.428606820309417232e-6), log_m))


def _cos_turns_2_pow_24(j):
    q = (j + np.uint64(1 << 21)) >> np.uint64(22)
    f = j.astype(np.int64) - (q << np.uint64(22)).astype(np.int64)
    a = f.astype(np.float32) * np.float32(3.7450702829239054e-7)
    w = a * a
    c = _fma(w, np.float32(-2.7557319223985893e-7), np.float32(2.4801587301587302e-5))
    for k in (-1.3888888888888889e-3, 4.1666666666666667e-2, -0.5, 1.0):
        c = _fma(w, c, np.float32(k))
    s = _fma(w, np.float32(2.7557319223985891e-6), np.float32(-1.9841269841269841e-4))
    for k in (8.3333333333333333e-3, -0.16666666666666667):
        s = _fma(w, s, np.float32(k))
    s = s * w
    s = _fma(a, s, a)
    quarter = q & np.uint64(3)
    return np.select([quarter == 0, quarter == 1, quarter == 2], [c, -s, -c], s).astype(np.float32)


def normal(seed, offsets):
    """A standard normal float32 for (seed, offset): Box-Muller as rng.hpp evaluates it."""
    b = _block(seed, offsets, _STREAM_NORMAL)
    log_u1 = _log_n_times_2_pow_minus_24((b[0] >> np.uint64(8)) + np.uint64(1))
    radius = np.sqrt(log_u1 * np.float32(-2)).astype(np.float32)
    return radius * _cos_turns_2_pow_24(b[1] >> np.uint64(8))
