// Atomics (every type and operation, with their return values) and device intrinsics.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/emu/tests/helpers.hpp"

namespace halfway::emu {

struct Counters {
  int add_i;
  unsigned add_u;
  unsigned long long add_ull;
  float add_f;
  double add_d;
  __half add_h;
  __half2 add_h2;
  __nv_bfloat16 add_bf;
  int sub_i;
  int max_i;
  unsigned min_u;
  long long max_ll;
  int exch_i;
  float exch_f;
  unsigned and_u, or_u, xor_u;
  unsigned inc_u, dec_u;
  int cas_i;
  unsigned long long cas_ull;
};

__global__ void atomics(Counters* c, int* old_add) {
  const int t = threadIdx.x + blockIdx.x * blockDim.x;
  old_add[t] = atomicAdd(&c->add_i, 1);
  atomicAdd(&c->add_u, 2u);
  atomicAdd(&c->add_ull, 1ull << 33);
  atomicAdd(&c->add_f, 0.5f);
  atomicAdd(&c->add_d, 0.25);
  atomicAdd(&c->add_h, __float2half(1.0f));
  atomicAdd(&c->add_h2, __floats2half2_rn(1.0f, -2.0f));
  atomicAdd(&c->add_bf, __float2bfloat16(1.0f));
  atomicSub(&c->sub_i, 3);
  atomicMax(&c->max_i, (t * 37) % 101);
  atomicMin(&c->min_u, 1000u + static_cast<unsigned>((t * 13) % 97));
  atomicMax(&c->max_ll, -1000000000000ll + t);
  atomicExch(&c->exch_i, 7);
  atomicExch(&c->exch_f, 1.5f);
  atomicAnd(&c->and_u, ~(1u << (t % 32)));
  atomicOr(&c->or_u, 1u << (t % 16));
  atomicXor(&c->xor_u, 1u << (t % 8));
  atomicInc(&c->inc_u, 9u);
  atomicDec(&c->dec_u, 9u);
  // A counter through atomicCAS, the way CUDA code builds atomics the hardware lacks.
  int old = atomicAdd(&c->cas_i, 0), assumed;  // an atomic read: a plain one would race
  do {
    assumed = old;
    old = atomicCAS(&c->cas_i, assumed, assumed + 2);
  } while (old != assumed);
  unsigned long long o = atomicAdd(&c->cas_ull, 0ull), a;
  do {
    a = o;
    o = atomicCAS(&c->cas_ull, a, a + 1);
  } while (o != a);
}

__global__ void intrinsics(float* f, int* i) {
  f[0] = __expf(1.0f);
  f[1] = __logf(8.0f);
  f[2] = rsqrtf(16.0f);
  f[3] = __fdividef(1.0f, 8.0f);
  f[4] = __int_as_float(0x40400000);
  f[5] = fmaf(2.0f, 3.0f, 1.0f);
  f[6] = __saturatef(1.5f);
  f[7] = __saturatef(-0.5f);
  f[8] = __saturatef(0.25f);
  f[9] = __saturatef(NAN);
  f[10] = __ldg(&f[5]);
  f[11] = min(2.5f, 1.5f);
  f[12] = max(3, 4.5f);
  i[0] = __float_as_int(1.0f);
  i[1] = __popc(0xf0f0u);
  i[2] = __clz(1);
  i[3] = __ffs(0x50);
  i[4] = static_cast<int>(__brev(1u));
  i[5] = static_cast<int>(__byte_perm(0x33221100u, 0x77665544u, 0x0415u));
  i[6] = min(-3, 2);
  i[7] = static_cast<int>(__umulhi(0x80000000u, 6u));
  i[8] = __popcll(0xffffffffffull);
}

}  // namespace halfway::emu

namespace halfway::emu_test {
using namespace ::halfway::emu;

TEST_CASE("emu: every atomic gives the exact total and atomicAdd returns distinct old values") {
  for_each_order([] {
    const int n = 4 * 128;
    Counters init{};
    init.max_i = -5;
    init.min_u = 5000;
    init.max_ll = -2000000000000ll;
    init.and_u = 0xffffffffu;
    init.add_h = simt::__half(0.0f);
    init.add_h2 = simt::__floats2half2_rn(0.0f, 0.0f);
    init.add_bf = simt::__nv_bfloat16(0.0f);
    DeviceBuffer<Counters> c(1, {init});
    DeviceBuffer<int> old(n);
    HALFWAY_LAUNCH(atomics, 4, 128, 0, 0)(c.get(), old.get());
    const Counters r = c.host()[0];
    CHECK(r.add_i == n);
    CHECK(r.add_u == 2u * n);
    CHECK(r.add_ull == (1ull << 33) * n);
    CHECK(r.add_f == 0.5f * n);
    CHECK(r.add_d == 0.25 * n);
    CHECK(static_cast<float>(r.add_h) == 512.0f);
    CHECK(simt::__low2float(r.add_h2) == 512.0f);
    CHECK(simt::__high2float(r.add_h2) == -1024.0f);
    CHECK(static_cast<float>(r.add_bf) == 256.0f);  // bf16 stops counting at 256 (8-bit significand)
    CHECK(r.sub_i == -3 * n);
    CHECK(r.max_i == 100);
    CHECK(r.min_u == 1000u);
    CHECK(r.max_ll == -1000000000000ll + n - 1);
    CHECK(r.exch_i == 7);
    CHECK(r.exch_f == 1.5f);
    CHECK(r.and_u == 0u);
    CHECK(r.or_u == 0xffffu);
    CHECK(r.xor_u == 0u);  // every bit flipped an even number of times
    CHECK(r.inc_u == static_cast<unsigned>(n % 10));
    CHECK(r.dec_u == static_cast<unsigned>((10 - n % 10) % 10));
    CHECK(r.cas_i == 2 * n);
    CHECK(r.cas_ull == static_cast<unsigned long long>(n));
    auto o = old.host();
    std::sort(o.begin(), o.end());
    for (int k = 0; k < n; ++k) CHECK(o[k] == k);
  });
}

TEST_CASE("emu: device intrinsics give the exact values") {
  DeviceBuffer<float> f(16);
  DeviceBuffer<int> i(16);
  HALFWAY_LAUNCH(intrinsics, 1, 1, 0, 0)(f.get(), i.get());
  const auto fv = f.host();
  const auto iv = i.host();
  CHECK(fv[0] == std::exp(1.0f));
  CHECK(fv[1] == std::log(8.0f));
  CHECK(fv[2] == 0.25f);
  CHECK(fv[3] == 0.125f);
  CHECK(fv[4] == 3.0f);
  CHECK(fv[5] == 7.0f);
  CHECK(fv[6] == 1.0f);
  CHECK(fv[7] == 0.0f);
  CHECK(fv[8] == 0.25f);
  CHECK(fv[9] == 0.0f);
  CHECK(fv[10] == 7.0f);
  CHECK(fv[11] == 1.5f);
  CHECK(fv[12] == 4.5f);
  CHECK(iv[0] == 0x3f800000);
  CHECK(iv[1] == 8);
  CHECK(iv[2] == 31);
  CHECK(iv[3] == 5);
  CHECK(static_cast<unsigned>(iv[4]) == 0x80000000u);
  CHECK(static_cast<unsigned>(iv[5]) == 0x00441155u);
  CHECK(iv[6] == -3);
  CHECK(iv[7] == 3);
  CHECK(iv[8] == 40);
}

}  // namespace halfway::emu_test
