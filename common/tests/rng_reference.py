#!/usr/bin/env python3
"""Reference values for common/tests/rng_test.cpp, computed independently of the C++ code.

Philox-4x32-10 written from the SC'11 paper in plain Python integers, checked first against
the three "philox4x32 10" known-answer lines of Random123's tests/kat_vectors; then the
values the test pins: bits(seed, offset), uniform = (bits >> 8) / 2^24 (exact), and the
exact (double precision) Box-Muller value sqrt(-2 ln u1) cos(2 pi u2) on the same bits,
which rng::normal() must match within the bound the test derives.

Run: python3 common/tests/rng_reference.py   (prints C++ initialisers to paste)
"""
import math

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK, (p0 >> 32) ^ c3 ^ k1, p0 & MASK
    return c0, c1, c2, c3


KAT = [  # Random123 tests/kat_vectors: ctr[4] key[2] -> out[4]
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((MASK,) * 4, (MASK, MASK), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]
for ctr, key, out in KAT:
    assert philox4x32_10(ctr, key) == out, (ctr, key)


def block(seed, offset, stream):
    return philox4x32_10((offset & MASK, offset >> 32, stream, 0), (seed & MASK, seed >> 32))


CASES = [(0, 0), (0, 1), (1, 0), (42, 7), (42, 1 << 32), (0x0123456789ABCDEF, 0xFEDCBA9876543210),
         (2026, 123456789), ((1 << 64) - 1, (1 << 64) - 1)]

print("// seed, offset, bits, uniform * 2^24")
for s, o in CASES:
    b = block(s, o, 0)[0]
    print(f"  {{0x{s:016X}ull, 0x{o:016X}ull, 0x{b:08X}u, {b >> 8}u}},")

print("// seed, offset, exact Box-Muller (double), radius")
for s, o in CASES:
    w = block(s, o, 1)
    u1 = ((w[0] >> 8) + 1) / 2.0**24
    u2 = (w[1] >> 8) / 2.0**24
    r = math.sqrt(-2.0 * math.log(u1))
    print(f"  {{0x{s:016X}ull, 0x{o:016X}ull, {r * math.cos(2 * math.pi * u2)!r}, {r!r}}},")
