// Tests of common/cli.hpp: exit codes and the one-line messages of run_program.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/error.hpp"

using namespace halfway;

namespace {
// A fake command line: argv[0] is a path, like a program run from the build folder.
struct Run {
  std::ostringstream out, err;
  int code = -1;
  bool body_ran = false;

  Run(CLI::App& app, std::vector<std::string> args, const std::function<void()>& body = [] {}) {
    args.insert(args.begin(), "/some/build/bin/demo");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    code = run_program(static_cast<int>(args.size()), argv.data(), app,
                       [&] {
                         body_ran = true;
                         body();
                       },
                       out, err);
  }
  std::size_t err_lines() const {
    const std::string e = err.str();
    return static_cast<std::size_t>(std::count(e.begin(), e.end(), '\n'));
  }
};

// An app with the options the tests use.
struct DemoApp {
  CLI::App app{"A demo program"};
  int steps = 10;
  std::string backend = "auto";
  std::string log;
  DemoApp() {
    app.add_option("--steps", steps, "training steps")->check(halfway::positive_number());
    add_backend_option(app, backend);
    add_log_option(app, log, "one row per step");
  }
};
}  // namespace

TEST_CASE("run_program runs the body and returns 0") {
  DemoApp d;
  Run r(d.app, {"--steps", "7", "--backend", "emu", "--log", "out/x.csv"});
  CHECK(r.code == 0);
  CHECK(r.body_ran);
  CHECK(d.steps == 7);
  CHECK(d.backend == "emu");
  CHECK(d.log == "out/x.csv");
  CHECK(r.err.str().empty());
  CHECK(r.out.str().empty());
}

TEST_CASE("run_program keeps the defaults") {
  DemoApp d;
  Run r(d.app, {});
  CHECK(r.code == 0);
  CHECK(d.backend == "auto");
  CHECK(d.steps == 10);
  CHECK(d.log.empty());
}

TEST_CASE("help prints the usage and exits 0 without running the body") {
  DemoApp d;
  Run r(d.app, {"--help"});
  CHECK(r.code == 0);
  CHECK_FALSE(r.body_ran);
  const std::string help = r.out.str();
  CHECK(help.find("A demo program") != std::string::npos);
  CHECK(help.find("Usage: demo") != std::string::npos);  // the name without the folders
  CHECK(help.find("--backend") != std::string::npos);
  CHECK(help.find("--steps") != std::string::npos);
  CHECK(r.err.str().empty());
}

TEST_CASE("a bad value prints one line and exits 2") {
  DemoApp d;
  Run r(d.app, {"--steps", "many"});
  CHECK(r.code == 2);
  CHECK_FALSE(r.body_ran);
  CHECK(r.err_lines() == 1);
  const std::string e = r.err.str();
  CHECK(e.rfind("demo: error: ", 0) == 0);
  CHECK(e.find("--steps") != std::string::npos);
  CHECK(e.find("many") != std::string::npos);
  CHECK(e.find("(see --help)\n") == e.size() - 13);
  CHECK(r.out.str().empty());
}

TEST_CASE("a value failing its check prints one line and exits 2") {
  DemoApp d;
  Run r(d.app, {"--steps", "-3"});
  CHECK(r.code == 2);
  CHECK(r.err_lines() == 1);
  CHECK(r.err.str().find("--steps") != std::string::npos);
}

TEST_CASE("a bad backend prints one line naming it and exits 2") {
  DemoApp d;
  Run r(d.app, {"--backend", "gpu"});
  CHECK(r.code == 2);
  CHECK(r.err_lines() == 1);
  CHECK(r.err.str().rfind("demo: error: --backend", 0) == 0);
  CHECK(r.err.str().find("gpu") != std::string::npos);
}

TEST_CASE("an unknown option or a missing value prints one line and exits 2") {
  {
    DemoApp d;
    Run r(d.app, {"--stpes", "3"});
    CHECK(r.code == 2);
    CHECK(r.err_lines() == 1);
    CHECK(r.err.str().find("--stpes") != std::string::npos);
  }
  {
    DemoApp d;
    Run r(d.app, {"--steps"});
    CHECK(r.code == 2);
    CHECK(r.err_lines() == 1);
  }
  {
    CLI::App app{"needs a file"};
    std::string file;
    app.add_option("file", file, "input")->required();
    Run r(app, {});
    CHECK(r.code == 2);
    CHECK(r.err_lines() == 1);
    CHECK(r.err.str().find("file") != std::string::npos);
  }
}

TEST_CASE("errors thrown by the body give one line and exit 2 or 1") {
  {
    DemoApp d;
    Run r(d.app, {}, [] { throw UsageError("--steps must be a multiple of 4"); });
    CHECK(r.code == 2);
    CHECK(r.err.str() == "demo: error: --steps must be a multiple of 4 (see --help)\n");
  }
  {
    DemoApp d;
    Run r(d.app, {}, [] { throw Error("gemm.cpp:42: expected K >= 1, found K = 0"); });
    CHECK(r.code == 1);
    CHECK(r.err.str() == "demo: gemm.cpp:42: expected K >= 1, found K = 0\n");
  }
  {
    DemoApp d;
    Run r(d.app, {}, [] { throw std::runtime_error("first\nsecond\n"); });
    CHECK(r.code == 1);
    CHECK(r.err.str() == "demo: first; second\n");
  }
  {
    DemoApp d;
    Run r(d.app, {}, [] { throw 42; });
    CHECK(r.code == 1);
    CHECK(r.err_lines() == 1);
  }
  {
    DemoApp d;
    Run r(d.app, {}, [] { throw CLI::RuntimeError(3); });
    CHECK(r.code == 3);
    CHECK(r.err.str().empty());
  }
}

TEST_CASE("the dtype option accepts the three types") {
  CLI::App app{"dtype"};
  std::string dtype;
  add_dtype_option(app, dtype);
  CHECK(dtype == "f16");
  Run ok(app, {"--dtype", "bf16"});
  CHECK(ok.code == 0);
  CHECK(dtype == "bf16");
  CLI::App app2{"dtype"};
  add_dtype_option(app2, dtype);
  Run bad(app2, {"--dtype", "f64"});
  CHECK(bad.code == 2);
  CHECK(bad.err_lines() == 1);
}
