// ch03_memory: the activations each layer keeps for its backward pass, in bytes, at the
// trainer's shapes, in fp32 mode and in mixed mode (fp16 and bf16 storage). The figure
// plots/ch03_activation_memory.py draws from its CSV is in the lesson.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "kernels/layers/transformer.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

struct Row {
  std::string layer;
  std::size_t bytes;
};

// Runs one training forward of the seed's model in storage type S and asks every layer
// what it saved.
template <class S>
std::vector<Row> saved(int B, int Ls, int Lt) {
  Config c;
  auto m = std::make_unique<Seq2Seq<S>>(c);
  m->init(1);
  Batch b;
  b.B = B, b.Ls = Ls, b.Lt = Lt;
  for (int i = 0; i < B * Ls; ++i) b.src.push_back(1 + i % 12);
  for (int i = 0; i < B * Lt; ++i) b.tgt_in.push_back(1 + i % 12), b.tgt_out.push_back(1 + (i + 1) % 12);
  b.src_pad.assign(b.src.size(), 0);
  b.tgt_pad.assign(b.tgt_in.size(), 0);
  m->forward(b, RunState{true, 1, 1});
  std::vector<Row> rows;
  for (std::size_t i = 0; i < m->encoder.layers.size(); ++i)
    rows.push_back({"encoder layer " + std::to_string(i), m->encoder.layers[i].saved_bytes()});
  rows.push_back({"encoder norm", m->encoder.norm.saved_bytes()});
  for (std::size_t i = 0; i < m->decoder.layers.size(); ++i)
    rows.push_back({"decoder layer " + std::to_string(i), m->decoder.layers[i].saved_bytes()});
  rows.push_back({"decoder norm", m->decoder.norm.saved_bytes()});
  // The output layer keeps its input; the loss keeps the logits' gradient (S).
  rows.push_back({"generator + loss", m->generator.saved_bytes() + std::size_t(B) * Lt * c.vocab * sizeof(S)});
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 03: activation memory saved for backward, per layer, fp32 vs mixed"};
  int batch = 32, src_len = 8, tgt_len = 10;
  std::string csv_path;
  app.add_option("--batch", batch, "sequences per batch")->check(CLI::Range(1, 4096));
  app.add_option("--src-length", src_len, "source tokens")->check(CLI::Range(1, 512));
  app.add_option("--tgt-length", tgt_len, "target tokens")->check(CLI::Range(1, 512));
  app.add_option("--csv", csv_path, "write the table to this CSV file");
  return run_program(argc, argv, app, [&] {
    const auto f32 = saved<float>(batch, src_len, tgt_len);
    const auto f16 = saved<half>(batch, src_len, tgt_len);
    const auto b16 = saved<bfloat16>(batch, src_len, tgt_len);
    std::unique_ptr<CsvWriter> csv;
    if (!csv_path.empty())
      csv = std::make_unique<CsvWriter>(csv_path, std::vector<std::string>{"layer", "fp32_bytes", "fp16_bytes", "bf16_bytes"});
    std::printf("activations saved for backward: batch %d, source %d, target %d tokens, d_model 128, d_ff 2048\n",
                batch, src_len, tgt_len);
    std::printf("%-18s %12s %12s %8s\n", "layer", "fp32 KiB", "mixed KiB", "ratio");
    std::size_t t32 = 0, t16 = 0;
    for (std::size_t i = 0; i < f32.size(); ++i) {
      std::printf("%-18s %12.1f %12.1f %8.2f\n", f32[i].layer.c_str(), f32[i].bytes / 1024.0, f16[i].bytes / 1024.0,
                  double(f16[i].bytes) / double(f32[i].bytes));
      if (csv) csv->row(f32[i].layer, f32[i].bytes, f16[i].bytes, b16[i].bytes);
      t32 += f32[i].bytes;
      t16 += f16[i].bytes;
    }
    std::printf("%-18s %12.1f %12.1f %8.2f\n", "total", t32 / 1024.0, t16 / 1024.0, double(t16) / double(t32));
  });
}
