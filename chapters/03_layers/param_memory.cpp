// ch03_param_memory: what the parameters of the seed's model cost in memory, per mode, read
// from the parameter store's actual allocations (ParamStore::bytes(), the Buf::bytes() of
// each flat buffer) rather than computed by hand: fp32; mixed fp16 and bf16 with fp32
// gradients and with 16-bit gradients; each without and with Adam's two moments. The
// lesson's table is its output.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/log.hpp"
#include "kernels/layers/transformer.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

struct Row {
  std::string mode;
  bool adam;
  std::int64_t params;
  StoreBytes bytes;
};

// The seed's model in storage type S (on the cpu: the sizes are the same on every backend).
template <class S>
void measure(const std::string& mode, std::vector<Row>& rows, GradType grads = GradType::fp32) {
  auto model = std::make_unique<Seq2Seq<S>>(Config{}, grads);
  rows.push_back({mode, false, model->store.count(), model->store.bytes()});
  model->store.ensure_moments();
  rows.push_back({mode, true, model->store.count(), model->store.bytes()});
}

double mib(std::size_t b) { return double(b) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 03: bytes per parameter of the seed's model, per precision mode, from the parameter store"};
  std::string csv_path;
  app.add_option("--csv", csv_path, "write the table to this CSV file");
  return run_program(argc, argv, app, [&] {
    std::vector<Row> rows;
    measure<float>("fp32", rows);
    measure<half>("mixed fp16, fp32 grads", rows);
    measure<bfloat16>("mixed bf16, fp32 grads", rows);
    measure<half>("mixed fp16, fp16 grads", rows, GradType::storage);
    measure<bfloat16>("mixed bf16, bf16 grads", rows, GradType::storage);
    std::unique_ptr<CsvWriter> csv;
    if (!csv_path.empty())
      csv = std::make_unique<CsvWriter>(csv_path, std::vector<std::string>{"mode", "adam", "parameters", "masters_bytes", "working_bytes",
                                                                           "grads_bytes", "moments_bytes", "total_bytes", "bytes_per_param"});
    std::printf("parameter store of the seed's model (Config defaults: d_model 128, 4 heads, d_ff 2048, 2 + 2 layers, 13 tokens)\n");
    std::printf("%-24s %-5s %10s %9s %9s %9s %9s %9s %9s\n", "mode", "adam", "params", "masters", "working", "grads",
                "moments", "total", "B/param");
    std::printf("%-24s %-5s %10s %9s %9s %9s %9s %9s %9s\n", "", "", "", "MiB", "MiB", "MiB", "MiB", "MiB", "");
    for (const Row& r : rows) {
      const double per = double(r.bytes.total()) / double(r.params);
      std::printf("%-24s %-5s %10lld %9.2f %9.2f %9.2f %9.2f %9.2f %9.3f\n", r.mode.c_str(), r.adam ? "yes" : "no",
                  static_cast<long long>(r.params), mib(r.bytes.masters), mib(r.bytes.working), mib(r.bytes.grads),
                  mib(r.bytes.moments), mib(r.bytes.total()), per);
      if (csv)
        csv->row(r.mode, r.adam ? "yes" : "no", r.params, r.bytes.masters, r.bytes.working, r.bytes.grads, r.bytes.moments,
                 r.bytes.total(), per);
    }
    std::printf("(bytes per parameter include the alignment padding: each view starts at a multiple of 128 elements)\n");
  });
}
