// Chapter 08: the ring all-reduce's cost, measured. For buffers from 4 KiB to 64 MiB it
// times the ring of exercise 08.1 and the MPI library's all-reduce (the communicator's:
// MPI_Iallreduce in place, waited for; the slowest rank's median), then fits the ring's cost model
//     t(bytes) = 2 (N - 1) alpha + 2 (N - 1) / N x bytes / beta
// (alpha: the latency of one message, beta: the bandwidth of one link) by least squares
// and prints the model's prediction next to each measurement. Rank 0 prints.
#include <algorithm>
#include <memory>
#include <cstdio>
#include <vector>

#include "08_data_parallel/ring_all_reduce.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/timer.hpp"
#include "kernels/dist/communicator.hpp"

namespace {
using namespace halfway;
using namespace halfway::dist;

// Seconds of one call, the median of `repeats` on the slowest rank.
template <class F>
double slowest_median(Communicator& comm, int repeats, F&& call) {
  std::vector<double> runs;
  for (int k = 0; k < repeats + 1; ++k) {
    comm.barrier();
    WallTimer t;
    call();
    if (k > 0) runs.push_back(t.seconds());  // the first run warms up the buffers
  }
  std::nth_element(runs.begin(), runs.begin() + runs.size() / 2, runs.end());
  float median = float(runs[runs.size() / 2]);
  comm.all_reduce(&median, 1, ReduceOp::max);
  return median;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 08: ring all-reduce against MPI's, and the ring's cost model"};
  int repeats = 9;
  std::int64_t max_mib = 64;
  std::string csv;
  app.add_option("--repeats", repeats, "timed runs per size (default 9)")->check(whole_number(1, 1000));
  app.add_option("--max-mib", max_mib, "largest buffer in MiB (default 64)")->check(whole_number<std::int64_t>(1, 1024));
  app.add_option("--csv", csv, "also write the table to this CSV file");
  return run_program(argc, argv, app, [&] {
    auto comm = make_communicator(Backend::cpu);
    const int n_ranks = comm->size();
    const bool talk = comm->rank() == 0;
    std::vector<std::int64_t> sizes;
    for (std::int64_t bytes = 4096; bytes <= max_mib << 20; bytes *= 4) sizes.push_back(bytes / 4);
    std::vector<double> ring_s, mpi_s;
    std::vector<float> data, scratch;
    for (std::int64_t n : sizes) {
      data.assign(std::size_t(n), 1.0f);
      ring_s.push_back(slowest_median(*comm, repeats, [&] { ring_all_reduce(*comm, data.data(), n, scratch); }));
      mpi_s.push_back(slowest_median(*comm, repeats, [&] { comm->all_reduce(data.data(), n, ReduceOp::sum); }));
    }
    if (!talk) return;
    // Least squares for t = a x + b y with x = 2 (N - 1), y = 2 (N - 1) / N x bytes: a = alpha, b = 1 / beta.
    double sxx = 0, sxy = 0, syy = 0, sxt = 0, syt = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const double x = 2.0 * (n_ranks - 1), y = x / n_ranks * double(sizes[i] * 4), t = ring_s[i];
      const double w = 1.0 / (t * t);  // relative errors: small and large buffers count alike
      sxx += w * x * x, sxy += w * x * y, syy += w * y * y, sxt += w * x * t, syt += w * y * t;
    }
    const double det = sxx * syy - sxy * sxy;
    const double alpha = n_ranks > 1 ? (sxt * syy - syt * sxy) / det : 0, inv_beta = n_ranks > 1 ? (sxx * syt - sxy * sxt) / det : 0;
    std::printf("%d rank(s); ring of exercise 08.1 against MPI_Iallreduce (median of %d, slowest rank)\n", n_ranks, repeats);
    std::printf("fit: alpha = %.1f us per message, beta = %.2f GB/s per link\n", alpha * 1e6,
                inv_beta > 0 ? 1e-9 / inv_beta : 0.0);
    std::printf("%10s %12s %12s %12s %14s\n", "bytes", "ring ms", "model ms", "MPI ms", "ring busbw GB/s");
    std::unique_ptr<CsvWriter> log;
    if (!csv.empty()) log = std::make_unique<CsvWriter>(csv, std::vector<std::string>{"ranks", "bytes", "ring_s", "model_s", "mpi_s"});
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const double bytes = double(sizes[i] * 4), moved = 2.0 * (n_ranks - 1) / n_ranks * bytes;
      const double model = 2.0 * (n_ranks - 1) * alpha + moved * inv_beta;
      std::printf("%10.0f %12.3f %12.3f %12.3f %14.2f\n", bytes, ring_s[i] * 1e3, model * 1e3, mpi_s[i] * 1e3,
                  moved / ring_s[i] * 1e-9);
      if (log) log->row(n_ranks, bytes, ring_s[i], model, mpi_s[i]);
    }
  });
}
