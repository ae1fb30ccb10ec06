// run_program and the common options (common/cli.hpp).
#include "common/cli.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>

#include "common/error.hpp"

namespace halfway {

namespace {
// One line, whatever the message holds: line breaks become "; ", trailing blanks go.
std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') continue;
    if (text[i] == '\n') {
      out += "; ";
      while (i + 1 < text.size() && text[i + 1] == ' ') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string program_name(int argc, char** argv, const CLI::App& app) {
  if (!app.get_name().empty()) return app.get_name();
  if (argc > 0 && argv && argv[0] && argv[0][0]) {
    return std::filesystem::path(argv[0]).filename().string();
  }
  return "program";
}

// What the program printed so far comes first, then the error line.
void flush_output() {
  std::cout.flush();
  std::fflush(stdout);
}

int usage_error(std::ostream& err, const std::string& program, const std::string& what) {
  flush_output();
  err << program << ": error: " << one_line(what) << " (see --help)" << std::endl;
  return 2;
}

int runtime_error(std::ostream& err, const std::string& program, const std::string& what) {
  flush_output();
  err << program << ": " << one_line(what) << std::endl;
  return 1;
}
}  // namespace

int run_program(int argc, char** argv, CLI::App& app, const std::function<void()>& body) {
  return run_program(argc, argv, app, body, std::cout, std::cerr);
}

int run_program(int argc, char** argv, CLI::App& app, const std::function<void()>& body,
                std::ostream& out, std::ostream& err) {
  // Line-buffered even into a pipe or a file (stdio's default there is a 4 KiB block): a
  // killed run keeps every line it printed. Once, before the program writes anything.
  static const bool line_buffered = std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ) == 0;
  (void)line_buffered;
  const std::string program = program_name(argc, argv, app);
  app.name(program);  // the usage line shows "prog", not the build folder's path
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(e, out, err);  // --help, --help-all, --version
    }
    return usage_error(err, program, e.what());
  }
  try {
    body();
    return 0;
  } catch (const UsageError& e) {
    return usage_error(err, program, e.what());
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::Error& e) {  // e.g. a CLI11 check run by the body
    return usage_error(err, program, e.what());
  } catch (const std::exception& e) {
    return runtime_error(err, program, e.what());
  } catch (...) {
    return runtime_error(err, program, "unknown error (an exception that is not a std::exception)");
  }
}

namespace {
// A number check: `ok(x)` for a finite x given as the whole text, else "expected a number
// <range>, found ...". The help shows `range`.
CLI::Validator real_number(const std::string& range, std::function<bool(double)> ok) {
  const std::string what = "a number " + range;
  return CLI::Validator(
      [what, ok](std::string& text) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return "expected " + what + ", found '" + text + "'";
        if (!std::isfinite(x) || !ok(x)) return "expected " + what + ", found " + text;
        return {};
      },
      range);
}

std::string short_number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}
}  // namespace

CLI::Validator positive_number() {
  return real_number("> 0", [](double x) { return x > 0; });
}

CLI::Validator non_negative_number() {
  return real_number(">= 0", [](double x) { return x >= 0; });
}

CLI::Validator number_in(double lo, double hi) {
  return real_number("from " + short_number(lo) + " to " + short_number(hi),
                     [lo, hi](double x) { return x >= lo && x <= hi; });
}

CLI::Option* add_backend_option(CLI::App& app, std::string& backend) {
  if (backend.empty()) backend = "auto";
  return app
      .add_option("--backend", backend,
                  "where ops run: cpu (host code), emu (kernels on the CPU emulator), cuda "
                  "(kernels on the GPU), auto (cuda when a GPU is usable, else cpu)")
      ->check(CLI::IsMember({"cpu", "emu", "cuda", "auto"}))
      ->capture_default_str()
      ->type_name("NAME");
}

CLI::Option* add_log_option(CLI::App& app, std::string& path, const char* what,
                            const char* flag) {
  return app.add_option(flag, path, std::string("write ") + what + " to FILE ('-': stdout)")
      ->type_name("FILE");
}

CLI::Option* add_dtype_option(CLI::App& app, std::string& dtype) {
  if (dtype.empty()) dtype = "f16";
  return app.add_option("--dtype", dtype, "element type of the computation: f32, f16 or bf16")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}))
      ->capture_default_str()
      ->type_name("TYPE");
}

std::vector<Backend> benchmark_backends(const std::string& choice) {
  if (choice != "all") return {select_backend(choice)};
  std::vector<Backend> list{Backend::cpu};
  if (gpu_usable()) list.push_back(Backend::cuda);
  return list;
}

void add_gradient_benchmark_options(CLI::App& app, GradientBenchmarkOptions& o,
                                    const std::vector<std::string>& backends) {
  app.add_option("--sizes", o.sizes, "gradient counts (default: the seed's model, 2.51M, and 16M)")
      ->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 31));
  std::vector<std::string> choices = backends;
  choices.push_back("all");
  std::string names;
  for (const std::string& b : backends) names += b + ", ";
  app.add_option("--backend", o.backend, names + "or all (cpu, plus cuda when a GPU is usable)")
      ->check(CLI::IsMember(choices));
  app.add_option("--repeats", o.repeats, "timed runs per measurement (median reported)")->check(CLI::Range(1, 1000));
  add_log_option(app, o.csv, "the table as CSV", "--csv");
}

}  // namespace halfway
