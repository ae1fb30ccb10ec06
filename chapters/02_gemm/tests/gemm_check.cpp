#include "gemm_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "common/device_memory.hpp"

namespace halfway::ch02 {

namespace {

std::int64_t round_up8(std::int64_t v) { return (v + 7) / 8 * 8; }

// Values of a 16-bit type as doubles (exact).
std::vector<double> widen(DType t, const std::vector<std::uint16_t>& bits) {
  std::vector<float> f(bits.size());
  convert_to_f32(t, bits.data(), f.data(), std::int64_t(bits.size()));
  return {f.begin(), f.end()};
}

// A double rounded to C's type, as a double.
double round_to(DType t, double v) {
  const float f = float(v);  // exact for the integer tests (|v| < 2^24)
  if (t == DType::f32) return f;
  std::uint16_t h;
  convert_from_f32(t, &f, &h, 1);
  float back;
  convert_to_f32(t, &h, &back, 1);
  return back;
}

struct Matrix {
  std::int64_t rows, cols, ld, stride, count;  // count: elements of the whole buffer
};

Matrix layout(std::int64_t rows, std::int64_t cols, int batch, const Problem& p, bool broadcast) {
  Matrix m{rows, cols, cols, 0, 0};
  if (p.align8) m.ld = round_up8(m.ld);
  m.ld += p.pad;
  const std::int64_t size = (rows - 1) * m.ld + cols;
  m.stride = broadcast ? 0 : (p.align8 ? round_up8(rows * m.ld) : rows * m.ld + p.pad);
  m.count = (broadcast ? size : (batch - 1) * m.stride + size) + p.offset;
  return m;
}

}  // namespace

std::string Problem::describe() const {
  std::ostringstream s;
  s << (op_a == Op::N ? "N" : "T") << (op_b == Op::N ? "N" : "T") << " " << m << "x" << n << "x" << k;
  if (batch > 1) s << " batch " << batch << (broadcast_b ? " (B broadcast)" : "");
  s << " " << to_string(in) << "->" << to_string(out) << " alpha " << alpha << " beta " << beta;
  if (pad || align8) s << " ld" << (align8 ? " aligned" : "") << " +" << pad;
  if (offset) s << " base +" << offset;
  if (best_variant >= 0) s << " kernel 6 variant " << best_variant;
  s << (values == Values::integers ? " integers" : " random");
  return s.str();
}

Problem problem(const Op* l, const Shape3& s, DType in, DType out, Values values) {
  Problem p;
  p.op_a = l[0];
  p.op_b = l[1];
  p.m = s.m;
  p.n = s.n;
  p.k = s.k;
  p.in = in;
  p.out = out;
  p.values = values;
  return p;
}

Verdict compare(const std::vector<double>& got, const std::vector<double>& ref,
                const std::vector<double>& bound) {
  Verdict v;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - ref[i]);
    // !(err <= bound) is also true for a NaN; isfinite catches inf == inf.
    if (!std::isfinite(got[i]) || !(err <= bound[i])) {
      if (v.ok) {
        std::ostringstream s;
        s.precision(9);
        s << "element " << i << ": got " << got[i] << ", reference " << ref[i] << ", |error| " << err
          << ", bound " << bound[i];
        v.message = s.str();
      }
      v.ok = false;
      ++v.bad;
    }
  }
  if (!v.ok) v.message = std::to_string(v.bad) + " of " + std::to_string(got.size()) + " bad; first " + v.message;
  return v;
}

Verdict run_and_check(Backend backend, GemmKernel kernel, const Problem& p) {
  GemmArgs g = gemm_args(p.op_a, p.op_b, p.m, p.n, p.k, p.batch);
  const Matrix ma = layout(p.op_a == Op::N ? p.m : p.k, p.op_a == Op::N ? p.k : p.m, p.batch, p, false);
  const Matrix mb = layout(p.op_b == Op::N ? p.k : p.n, p.op_b == Op::N ? p.n : p.k, p.batch, p, p.broadcast_b);
  const Matrix mc = layout(p.m, p.n, p.batch, p, false);

  std::mt19937_64 rng(p.seed);
  auto draw = [&](std::int64_t count, DType t) {
    std::vector<float> f(static_cast<std::size_t>(count));
    std::uniform_int_distribution<int> ints(-4, 4);
    std::uniform_real_distribution<float> reals(-2.0f, 2.0f);
    for (auto& x : f) x = p.values == Values::integers ? float(ints(rng)) : reals(rng);
    std::vector<std::uint16_t> bits(f.size());
    if (t != DType::f32) convert_from_f32(t, f.data(), bits.data(), count);
    return std::make_pair(f, bits);
  };
  auto [fa, a_bits] = draw(ma.count, p.in);
  auto [fb, b_bits] = draw(mb.count, p.in);
  // f32 inputs (chapter 03's fp32 mode) are used as drawn; 16-bit ones as rounded.
  const bool in32 = p.in == DType::f32;
  const std::vector<double> a = in32 ? std::vector<double>(fa.begin(), fa.end()) : widen(p.in, a_bits);
  const std::vector<double> b = in32 ? std::vector<double>(fb.begin(), fb.end()) : widen(p.in, b_bits);

  // C: old values for beta != 0; NaN otherwise (beta == 0 must not read C).
  auto [fc, c_bits] = draw(mc.count, p.out);
  std::vector<double> c_old;
  if (p.out == DType::f32) {
    if (p.beta == 0.0f) std::fill(fc.begin(), fc.end(), std::nanf(""));
    c_old.assign(fc.begin(), fc.end());
  } else {
    if (p.beta == 0.0f) std::fill(c_bits.begin(), c_bits.end(), std::uint16_t(0x7e00));
    c_old = widen(p.out, c_bits);
  }

  // Device (or host) copies: f32 values as floats, 16-bit ones as their bits.
  auto upload = [&](const std::vector<float>& f, const std::vector<std::uint16_t>& bits, DType t) {
    Buf<unsigned char> buf;
    const std::size_t bytes = f.size() * size_of(t);
    copy_in(backend, buf.get(std::max<std::size_t>(bytes, 1), backend),
            t == DType::f32 ? static_cast<const void*>(f.data()) : bits.data(), bytes);
    return buf;
  };
  Buf<unsigned char> ta = upload(fa, a_bits, p.in), tb = upload(fb, b_bits, p.in), tc = upload(fc, c_bits, p.out);
  g.in = p.in;
  g.out = p.out;
  g.alpha = p.alpha;
  g.beta = p.beta;
  g.a = ta.data() + p.offset * size_of(p.in);
  g.b = tb.data() + p.offset * size_of(p.in);
  g.c = tc.data() + p.offset * size_of(p.out);
  g.lda = ma.ld;
  g.ldb = mb.ld;
  g.ldc = mc.ld;
  g.stride_a = ma.stride;
  g.stride_b = mb.stride;
  g.stride_c = mc.stride;
  if (p.best_variant >= 0)
    gemm_best_variant(backend, g, p.best_variant);
  else
    gemm(backend, g, kernel);

  std::vector<double> out_all;  // the copy to the host waits for the kernel
  if (p.out == DType::f32) {
    const auto v = to_host(backend, reinterpret_cast<const float*>(tc.data()), fc.size());
    out_all.assign(v.begin(), v.end());
  } else {
    out_all = widen(p.out, to_host(backend, reinterpret_cast<const std::uint16_t*>(tc.data()), c_bits.size()));
  }

  // The reference and the bound, element by element.
  //
  // Error bound for random inputs (derived here; chapter 02's lesson states it):
  // - The reference uses the very fp16/bf16 values the kernel reads, so there is no input
  //   error to account for.
  // - Each product a*b is exact in fp32: 11 x 11 significant bits (8 x 8 for bf16) fit in
  //   fp32's 24. f32 inputs (24 x 24 bits) are the exception: their product is rounded to
  //   nearest once, by at most 2^-24 |a b| (or not at all inside an FMA). With sums rounded
  //   to nearest too (SIMT fp32, sgemm), the classical bound for K products and K - 1 sums
  //   is gamma_K * sum_p |a_ip||b_pj|, gamma_K = K 2^-24 / (1 - K 2^-24) < K * 2^-23 for
  //   K < 2^23: the bound below holds unchanged (with a factor 2 to spare).
  // - The K products are summed in fp32 in some order (sequentially, in blocks, in tensor-
  //   core trees). Each addition errs by at most one ulp of its result when it truncates,
  //   as tensor cores may (half an ulp when it rounds to nearest): |s - S| <= K * 2^-23 *
  //   sum_p |a_ip||b_pj| (the classical (K-1)u bound with u = 2^-23, plus one term).
  // - The epilogue alpha*s + beta*c adds two roundings: <= 2 * 2^-23 * (|alpha s| + |beta c|).
  // So |C - ref| <= (K + 2) * 2^-23 * (|alpha| * sum_p |a_ip||b_pj| + |beta c|).
  // - A 16-bit C is then rounded once more: + 2^-11 |ref| for fp16 (2^-8 for bf16), plus
  //   half the smallest subnormal for results that underflow.
  // Integer inputs need no bound: all partial sums are integers below 2^24, so every
  // order of additions is exact, and the only rounding is the final one to C's type,
  // which the reference applies too (round_to).
  const bool exact = p.values == Values::integers;
  std::vector<double> got, ref, bound;
  const std::int64_t per = std::int64_t(p.m) * p.n;
  got.reserve(std::size_t(per * p.batch));
  ref.reserve(got.capacity());
  bound.reserve(got.capacity());
  const double u = std::ldexp(1.0, -23);
  const double out_rel = p.out == DType::f16 ? std::ldexp(1.0, -11) : p.out == DType::bf16 ? std::ldexp(1.0, -8) : 0.0;
  for (int z = 0; z < p.batch; ++z) {
    const std::int64_t a0 = p.offset + z * ma.stride, b0 = p.offset + z * mb.stride, c0 = p.offset + z * mc.stride;
    for (int i = 0; i < p.m; ++i) {
      for (int j = 0; j < p.n; ++j) {
        double s = 0, s_abs = 0;
        for (int q = 0; q < p.k; ++q) {
          const double av = p.op_a == Op::N ? a[a0 + std::int64_t(i) * ma.ld + q] : a[a0 + std::int64_t(q) * ma.ld + i];
          const double bv = p.op_b == Op::N ? b[b0 + std::int64_t(q) * mb.ld + j] : b[b0 + std::int64_t(j) * mb.ld + q];
          s += av * bv;
          s_abs += std::fabs(av * bv);
        }
        const std::int64_t at = c0 + std::int64_t(i) * mc.ld + j;
        const double beta_c = p.beta == 0.0f ? 0.0 : double(p.beta) * c_old[at];
        const double r = double(p.alpha) * s + beta_c;
        got.push_back(out_all[at]);
        if (exact) {
          ref.push_back(round_to(p.out, r));
          bound.push_back(0.0);
        } else {
          ref.push_back(r);
          const double acc_err = (p.k + 2) * u * (std::fabs(p.alpha) * s_abs + std::fabs(beta_c));
          bound.push_back(acc_err + out_rel * (std::fabs(r) + acc_err) + std::ldexp(1.0, -25) + 1e-30);
        }
      }
    }
  }
  Verdict v = compare(got, ref, bound);
  // Outside the matrices nothing may change: the gaps between rows and batch entries.
  if (v.ok && (mc.ld > p.n || p.offset)) {
    std::vector<bool> inside(std::size_t(mc.count), false);
    for (int z = 0; z < p.batch; ++z)
      for (int i = 0; i < p.m; ++i)
        for (int j = 0; j < p.n; ++j) inside[std::size_t(p.offset + z * mc.stride + std::int64_t(i) * mc.ld + j)] = true;
    for (std::int64_t e = 0; e < mc.count; ++e) {
      const double before = c_old[std::size_t(e)], after = out_all[std::size_t(e)];
      const bool same = (std::isnan(before) && std::isnan(after)) || before == after;
      if (!inside[std::size_t(e)] && !same) {
        v.ok = false;
        v.message = "element " + std::to_string(e) + " of C's buffer lies outside the matrices but was written";
        break;
      }
    }
  }
  if (!v.ok) v.message = p.describe() + ": " + v.message;
  return v;
}

}  // namespace halfway::ch02
